"""Accounting behaviour: creating, updating and listing records the way Xero does.

Writes return the stored documents, or raise :class:`XeroValidation` carrying the elements with
their ``ValidationErrors`` (Xero's ``ValidationException`` body). Documents with line items get
``LineItemID``s, ``SubTotal``/``TotalTax``/``Total``/``AmountDue``; payments reduce ``AmountDue``
and mark a document ``PAID``.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from kxflow_sandboxes.xero.state import RESOURCES, Org, Resource, ms_date, new_id, now, parse_date
from kxflow_sandboxes.xero.where import matches

PAYABLE_STATUSES = {"AUTHORISED"}


class XeroValidation(Exception):
    def __init__(self, elements: list[dict[str, Any]]) -> None:
        super().__init__("A validation exception occurred")
        self.elements = elements

    def body(self) -> dict[str, Any]:
        return {
            "ErrorNumber": 10,
            "Type": "ValidationException",
            "Message": "A validation exception occurred",
            "Elements": self.elements,
        }


class NotFound(Exception):
    pass


def _err(element: dict[str, Any], *messages: str) -> dict[str, Any]:
    out = copy.deepcopy(element)
    out["ValidationErrors"] = [{"Message": m} for m in messages]
    out["HasErrors"] = True
    out["StatusAttributeString"] = "ERROR"
    return out


def _money(value: Any) -> float:
    return round(float(value or 0), 2)


def _find_contact(org: Org, ref: dict[str, Any] | None) -> dict[str, Any] | None:
    if not ref:
        return None
    contacts = org.coll("Contacts")
    if ref.get("ContactID"):
        return contacts.get(str(ref["ContactID"]).lower())
    name = ref.get("Name")
    if name:
        for c in contacts.values():
            if c["Name"].lower() == str(name).lower():
                return c
    return None


def find_account(org: Org, ref: dict[str, Any] | None) -> dict[str, Any] | None:
    if not ref:
        return None
    for acc in org.coll("Accounts").values():
        if (ref.get("AccountID") and acc["AccountID"] == str(ref["AccountID"]).lower()) or (
            ref.get("Code") and acc["Code"] == str(ref["Code"])
        ):
            return acc
    return None


def _normalize_dates(res: Resource, doc: dict[str, Any]) -> None:
    for name in res.date_fields:
        if doc.get(name):
            parsed = parse_date(doc[name])
            if parsed is not None:
                doc[name] = ms_date(parsed)
                doc[f"{name}String"] = parsed.strftime("%Y-%m-%dT%H:%M:%S")


def _lines(org: Org, doc: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    sub = 0.0
    for line in doc.get("LineItems") or []:
        line.setdefault("LineItemID", new_id())
        qty = float(line.get("Quantity", 1) or 0)
        unit = float(line.get("UnitAmount", 0) or 0)
        amount = round(qty * unit * (1 - float(line.get("DiscountRate") or 0) / 100), 2)
        line["LineAmount"] = amount
        line.setdefault("TaxAmount", 0.0)
        sub += amount
        code = line.get("AccountCode")
        if code and not find_account(org, {"Code": code}):
            errors.append(f"Account code '{code}' is not a valid code for this document.")
        item_code = line.get("ItemCode")
        if item_code and not any(i.get("Code") == item_code for i in org.coll("Items").values()):
            errors.append(f"Item code '{item_code}' is not valid")
    doc["SubTotal"] = round(sub, 2)
    doc["TotalTax"] = 0.0
    doc["Total"] = round(sub, 2)
    return errors


def _stamp(doc: dict[str, Any]) -> None:
    when = now()
    doc["UpdatedDateUTC"] = ms_date(when)
    doc["UpdatedDateUTCString"] = when.strftime("%Y-%m-%dT%H:%M:%S")


def _check_contact_ref(org: Org, res: Resource, doc: dict[str, Any]) -> list[str]:
    if res.collection not in (
        "Invoices",
        "CreditNotes",
        "Quotes",
        "PurchaseOrders",
        "BankTransactions",
        "RepeatingInvoices",
    ):
        return []
    ref = doc.get("Contact")
    if not ref:
        return ["A Contact must be specified for this type of transaction"]
    contact = _find_contact(org, ref)
    if contact is None and ref.get("ContactID"):
        return [f"The contact with ContactID '{ref['ContactID']}' does not exist"]
    if contact is None:
        if res.collection in ("Invoices", "CreditNotes", "BankTransactions") and ref.get("Name"):
            contact = create(
                org,
                RESOURCES["Contacts"],
                # Xero creates the contact with every detail given inline (phones, addresses…)
                {k: v for k, v in ref.items() if k != "ContactID"},
            )
        else:
            return ["A Contact must be specified for this type of transaction"]
    doc["Contact"] = {"ContactID": contact["ContactID"], "Name": contact["Name"]}
    return []


def _validate_new(org: Org, res: Resource, doc: dict[str, Any]) -> list[str]:
    c = res.collection
    errors: list[str] = []
    if c == "Contacts":
        name = (doc.get("Name") or "").strip()
        if not name:
            errors.append("The contact name must be specified.")
        elif any(
            x["Name"].lower() == name.lower()
            for x in org.coll("Contacts").values()
            if x["ContactID"] != doc.get("ContactID")
        ):
            errors.append(
                f"The contact name {name} is already assigned to another contact. "
                "The contact name must be unique across all active contacts."
            )
    elif c == "Items":
        code = doc.get("Code")
        if not code:
            errors.append("Item Code must be specified")
        elif any(x["Code"] == code for x in org.coll("Items").values() if x["ItemID"] != doc.get("ItemID")):
            errors.append(f"Item code '{code}' already exists")
    elif c == "Accounts":
        for key in ("Name", "Code"):
            if any(a.get(key) == doc.get(key) for a in org.coll("Accounts").values()):
                errors.append(f"Please enter a unique {key}.")
    elif c in (
        "Invoices",
        "CreditNotes",
        "Quotes",
        "PurchaseOrders",
        "BankTransactions",
        "RepeatingInvoices",
    ):
        errors += _check_contact_ref(org, res, doc)
        if c in ("Invoices", "CreditNotes") and not doc.get("Type"):
            errors.append("Type must be specified")
        if c == "BankTransactions" and not find_account(org, doc.get("BankAccount")):
            errors.append("The BankAccount must be specified and be a bank account")
        if c == "BankTransactions" and not doc.get("LineItems"):
            errors.append("The transaction must have at least one line item")
    return errors


def _apply_payment(org: Org, doc: dict[str, Any]) -> list[str]:
    target_ref = doc.get("Invoice") or doc.get("CreditNote")
    coll = "Invoices" if doc.get("Invoice") else "CreditNotes"
    if not target_ref:
        return ["You must specify an Invoice or CreditNote for the payment"]
    target = None
    for d in org.coll(coll).values():
        if (
            (target_ref.get("InvoiceID") and d["InvoiceID"] == str(target_ref["InvoiceID"]).lower())
            or (target_ref.get("InvoiceNumber") and d.get("InvoiceNumber") == target_ref["InvoiceNumber"])
            or (
                target_ref.get("CreditNoteID")
                and d.get("CreditNoteID") == str(target_ref["CreditNoteID"]).lower()
            )
        ):
            target = d
    if target is None:
        return ["Invoice could not be found"]
    account = find_account(org, doc.get("Account"))
    if account is None:
        return ["Account could not be found"]
    if account["Type"] != "BANK" and not account.get("EnablePaymentsToAccount"):
        return ["Payments can only be made to or from a Bank account or an account with payments enabled"]
    if target.get("Status") not in PAYABLE_STATUSES:
        return ["Payment can only be made against Authorised documents"]
    amount = _money(doc.get("Amount"))
    if amount <= 0:
        return ["The Payment Amount must be greater than zero"]
    if amount > _money(target.get("AmountDue")):
        return ["Payment amount exceeds the amount outstanding on this document"]
    target["AmountPaid"] = _money(target.get("AmountPaid")) + amount
    target["AmountDue"] = round(_money(target.get("AmountDue")) - amount, 2)
    if target["AmountDue"] == 0:
        target["Status"] = "PAID"
        target["FullyPaidOnDate"] = ms_date(now())
    target.setdefault("Payments", []).append({"PaymentID": doc["PaymentID"], "Amount": amount})
    _stamp(target)
    doc["Account"] = {"AccountID": account["AccountID"], "Code": account["Code"]}
    doc[coll[:-1]] = {
        f"{coll[:-1]}ID": target[f"{coll[:-1]}ID"],
        f"{coll[:-1]}Number": target.get(f"{coll[:-1]}Number"),
        "Type": target.get("Type"),
        "Contact": target.get("Contact"),
    }
    doc["PaymentType"] = "ACCRECPAYMENT" if target.get("Type") in ("ACCREC", None) else "ACCPAYPAYMENT"
    doc.setdefault("IsReconciled", False)
    doc["Amount"] = amount
    return []


def create(org: Org, res: Resource, element: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(element)
    doc[res.id_field] = new_id()
    if res.default_status:
        doc.setdefault("Status", res.default_status)
    errors = _validate_new(org, res, doc)
    if res.has_lines:
        errors += _lines(org, doc)
        doc.setdefault("AmountPaid", 0.0)
        doc["AmountDue"] = doc["Total"]
    if res.collection == "Payments" and not errors:
        errors += _apply_payment(org, doc)
    if res.collection == "BankTransfers":
        for key in ("FromBankAccount", "ToBankAccount"):
            acc = find_account(org, doc.get(key))
            if acc is None or acc["Type"] != "BANK":
                errors.append(f"{key} must be a bank account")
            else:
                doc[key] = {"AccountID": acc["AccountID"], "Code": acc["Code"], "Name": acc["Name"]}
        doc["FromBankTransactionID"], doc["ToBankTransactionID"] = new_id(), new_id()
    if errors:
        raise XeroValidation([_err(element, *errors)])
    if res.number_field and not doc.get(res.number_field):
        doc[res.number_field] = org.next_number(res.number_prefix)
    if res.collection == "Contacts":
        doc.setdefault("ContactStatus", "ACTIVE")
    if res.collection == "Items":
        doc["IsTrackedAsInventory"] = bool(doc.get("InventoryAssetAccountCode"))
    _normalize_dates(res, doc)
    _stamp(doc)
    doc["StatusAttributeString"] = "OK"
    org.coll(res.collection)[doc[res.id_field]] = doc
    return doc


def update(org: Org, res: Resource, record_id: str, element: dict[str, Any]) -> dict[str, Any]:
    existing = get(org, res, record_id)
    if existing.get("Status") in ("PAID", "VOIDED", "DELETED") and res.collection == "Invoices":
        raise XeroValidation(
            [_err(element, f"Invoice not of valid status for modification ({existing['Status']})")]
        )
    merged = {**copy.deepcopy(existing), **copy.deepcopy(element)}
    merged[res.id_field] = existing[res.id_field]
    errors = _validate_new(org, res, merged) if res.collection in ("Contacts", "Items") else []
    if res.has_lines and "LineItems" in element:
        errors += _lines(org, merged)
        merged["AmountDue"] = round(merged["Total"] - _money(merged.get("AmountPaid")), 2)
    if errors:
        raise XeroValidation([_err(element, *errors)])
    _normalize_dates(res, merged)
    _stamp(merged)
    org.coll(res.collection)[existing[res.id_field]] = merged
    return merged


def add_to_group(org: Org, group: dict[str, Any], refs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``PUT /ContactGroups/{id}/Contacts``: the contacts become members (adding one twice is a no-op);
    each contact lists its groups, as Xero's ``GET /Contacts/{id}`` does."""
    added = []
    members = group.setdefault("Contacts", [])
    for ref in refs:
        contact = _find_contact(org, ref)
        if contact is None:
            raise XeroValidation(
                [_err(ref, f"The contact with ContactID '{ref.get('ContactID')}' does not exist")]
            )
        if not any(m["ContactID"] == contact["ContactID"] for m in members):
            members.append({"ContactID": contact["ContactID"], "Name": contact["Name"]})
        groups = contact.setdefault("ContactGroups", [])
        if not any(g["ContactGroupID"] == group["ContactGroupID"] for g in groups):
            groups.append(
                {"ContactGroupID": group["ContactGroupID"], "Name": group["Name"], "Status": "ACTIVE"}
            )
        added.append({"ContactID": contact["ContactID"], "Name": contact["Name"]})
    return added


def get(org: Org, res: Resource, record_id: str) -> dict[str, Any]:
    coll = org.coll(res.collection)
    key = record_id.lower()
    if key in coll:
        return coll[key]
    if res.number_field:
        for doc in coll.values():
            if doc.get(res.number_field) == record_id:
                return doc
    if res.collection == "Contacts":
        for doc in coll.values():
            if doc.get("ContactNumber") == record_id:
                return doc
    raise NotFound(record_id)


def upsert(org: Org, res: Resource, element: dict[str, Any]) -> dict[str, Any]:
    """POST on a collection: update when the element names an existing record, else create."""
    rid = element.get(res.id_field)
    if rid:
        return update(org, res, str(rid), element)
    if res.collection == "Items" and element.get("Code"):
        for doc in org.coll("Items").values():
            if doc["Code"] == element["Code"]:
                return update(org, res, doc["ItemID"], element)
    if res.collection == "Contacts" and element.get("Name"):
        for doc in org.coll("Contacts").values():
            if doc["Name"].lower() == str(element["Name"]).lower():
                return update(org, res, doc["ContactID"], element)
    return create(org, res, element)


_LIST_FILTERS = {
    "IDs": None,
    "InvoiceNumbers": "InvoiceNumber",
    "ContactIDs": "Contact.ContactID",
    "Statuses": "Status",
}


def _query_value(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def list_records(
    org: Org, res: Resource, query: dict[str, str], modified_since: datetime | None, app_id: str = ""
) -> tuple[list[dict[str, Any]], dict[str, int] | None]:
    docs = list(org.coll(res.collection).values())
    if res.collection == "Invoices" and query.get("createdByMyApp", "false").lower() == "true":
        # "When set to true you'll only retrieve Invoices created by your app" (the spec)
        docs = [d for d in docs if app_id and org.created_by.get(d[res.id_field]) == app_id]
    if modified_since is not None:
        docs = [d for d in docs if (parse_date(d.get("UpdatedDateUTC")) or modified_since) >= modified_since]
    for param, path in _LIST_FILTERS.items():
        if query.get(param):
            wanted = {v.strip().lower() for v in query[param].split(",") if v.strip()}
            field = path or res.id_field
            docs = [d for d in docs if str(_query_value(d, field) or "").lower() in wanted]
    if query.get("Status") and res.collection in ("Quotes", "PurchaseOrders"):
        docs = [d for d in docs if d.get("Status") == query["Status"]]
    if query.get("QuoteNumber"):
        docs = [d for d in docs if d.get("QuoteNumber") == query["QuoteNumber"]]
    if query.get("ContactID") and res.collection == "Quotes":
        docs = [d for d in docs if (d.get("Contact") or {}).get("ContactID") == query["ContactID"].lower()]
    if query.get("searchTerm"):
        term = query["searchTerm"].lower()
        fields = (
            "Name",
            "FirstName",
            "LastName",
            "ContactNumber",
            "EmailAddress",
            "InvoiceNumber",
            "Reference",
        )
        docs = [d for d in docs if any(term in str(d.get(f) or "").lower() for f in fields)]
    if query.get("where"):
        docs = [d for d in docs if matches(d, query["where"])]
    if res.collection == "Contacts" and query.get("includeArchived", "false").lower() != "true":
        docs = [d for d in docs if d.get("ContactStatus") != "ARCHIVED"]
    order = (query.get("order") or "").split()
    if order:
        reverse = len(order) > 1 and order[1].upper() == "DESC"
        if order[0] == "UpdatedDateUTC":
            docs.sort(key=lambda d: parse_date(d.get("UpdatedDateUTC")) or now(), reverse=reverse)
        else:
            docs.sort(key=lambda d: str(d.get(order[0]) or ""), reverse=reverse)
    if "page" not in query:
        return docs, None
    page = max(1, int(query.get("page") or 1))
    size = int(query.get("pageSize") or 100)
    total = len(docs)
    chunk = docs[(page - 1) * size : page * size]
    return chunk, {
        "page": page,
        "pageSize": size,
        "pageCount": (total + size - 1) // size,
        "itemCount": total,
    }
