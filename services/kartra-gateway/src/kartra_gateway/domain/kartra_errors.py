"""Every documented Kartra ``type`` code (reference §1.6–1.8), classified for retries and results.

Kartra answers business errors with HTTP 200 and a numeric ``type``. All documented codes are
permanent: retrying the same request gives the same answer. Only transport-level failures
(429, 5xx, network) are retryable. Codes meaning "does not exist" become ``not_found`` for
searches.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    auth = "auth"
    validation = "validation"
    not_found = "not_found"
    conflict = "conflict"
    rejected = "rejected"
    transient = "transient"


@dataclass(frozen=True)
class KartraCode:
    code: str
    message: str
    category: Category

    @property
    def retryable(self) -> bool:
        return self.category is Category.transient


_A, _V, _N, _C, _R, _T = (
    Category.auth,
    Category.validation,
    Category.not_found,
    Category.conflict,
    Category.rejected,
    Category.transient,
)
_TABLE: dict[str, tuple[str, Category]] = {
    "201": ("Connection not secure", _A),
    "202": ("API key cannot be empty", _A),
    "203": ("API key not valid", _A),
    "204": ("API Account inactive", _A),
    "206": ("email or lead id is required. Nothing done", _V),
    "207": ("List cannot be empty", _V),
    "208": ("List cannot be empty", _V),
    "209": ("List does not exist", _N),
    "211": ("Tag cannot be empty", _V),
    "212": ("Tag does not exist", _N),
    "213": ("Tag cannot be empty", _V),
    "214": ("Tag does not exist", _N),
    "215": ("Points cannot be empty", _V),
    "217": ("Points cannot be empty", _V),
    "219": ("Sequence does not exist", _N),
    "220": ("Sequence does not exist", _N),
    "223": ("'lead' not an array", _V),
    "224": ("'actions' not an array", _V),
    "225": ("Step cannot be empty", _V),
    "226": ("Sequence cannot be empty", _V),
    "227": ("Points is not a number", _V),
    "228": ("Points is not a number", _V),
    "229": ("Step has to be alphanumeric", _V),
    "230": ("Step does not exist", _N),
    "231": ("List does not exist", _N),
    "233": ("API password not valid", _A),
    "234": ("No lead found", _N),
    "236": ("'get_lead' not an array", _V),
    "238": ("App Id cannot be empty", _A),
    "239": ("App Id is not valid", _A),
    "240": ("App Account inactive", _A),
    "242": ("This API call was sent from an unauthorized IP", _A),
    "243": ("No lead found", _N),
    "244": ("Lead already exists", _C),
    "245": ("Lead is deleted", _N),
    "247": ("Transaction doesn't exist", _N),
    "248": ("Subscription doesn't exist", _N),
    "249": ("Transaction not linked to a recurring subscription", _R),
    "250": ("Transaction is outside the refund period", _R),
    "251": ("Transaction already refunded", _C),
    "252": ("Subscription already cancelled", _C),
    "253": ("Transaction type cannot be refunded or cancelled", _R),
    "254": ("'cmd' is required", _V),
    "255": ("Calendar cannot be empty", _V),
    "256": ("Class cannot be empty", _V),
    "257": ("Calendar does not exist", _N),
    "258": ("Class does not exist", _N),
    "259": ("No active/pending calendar subscription for this lead", _N),
    "260": ("Invalid date format", _V),
    "261": ("Date is in the past", _V),
    "262": ("App does not have permission to execute this CMD", _A),
    "263": ("Custom field identifier has invalid characters", _V),
    "264": ("Custom field already exists or is not allowed", _C),
    "265": ("Custom field identifier cannot be empty", _V),
    "266": ("Refund has failed", _R),
    "267": ("Cancellation has failed", _R),
    "268": ("Invalid amount", _V),
    "269": ("Custom field type not valid", _V),
    "270": ("Custom field options not an array", _V),
    "271": ("Wrong custom field format", _V),
    "272": ("Custom field option cannot be empty", _V),
    "273": ("At least two custom field options are required", _V),
    "274": ("Wrong subscription status", _V),
    "275": ("Cancelled or terminated subscriptions cannot be updated", _R),
    "276": ("Quantity must be between 1 and 9,999", _V),
    "277": ("Price must be between 1.00 and 9,999.99", _V),
    "278": ("Invalid number", _V),
    "280": ("Invalid recurring period", _V),
    "281": ("Recurrence cannot be changed", _R),
    "282": ("Invalid installments", _V),
    "283": ("Wrong product id or price point", _V),
    "284": ("PayPal subscriptions cannot be modified", _R),
    "285": ("No editable parameters", _V),
    "290": ("Tax must be between 0 and 100", _V),
    "429": ("Too many requests", _T),
}
CODES: dict[str, KartraCode] = {code: KartraCode(code, msg, cat) for code, (msg, cat) in _TABLE.items()}


def classify(code: str | None, message: str = "") -> KartraCode:
    """The known meaning of ``code``; an undocumented code is permanent (retrying will not help)."""
    if code and code in CODES:
        return CODES[code]
    return KartraCode(code or "unknown", message or "Kartra returned an error", Category.rejected)
