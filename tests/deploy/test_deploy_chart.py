"""The Helm chart renders with the real helm, lints, and every manifest validates offline.

Beyond schema validity, the invariants the issue asks for are checked on the rendered output:
topics equal the contracts' topic specs, pods are hardened, secrets are only referenced, probes
point at the health routes, autoscaling never exceeds partitions, and each service has its
Service, PDB and NetworkPolicy.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from deploy.deploy_manifests import (
    CHART,
    KUBE_VERSION,
    VALUES_SETS,
    Manifest,
    ManifestError,
    build_helm,
    by_kind,
    helm,
    render,
    validate_manifest,
)
from deploy.service_facts import GATEWAYS, SERVICES, settings_fields, unknown_settings

from kxflow_contracts.topics import Topics

VALUES = yaml.safe_load((CHART / "values.yaml").read_text())

# The first test to ask for helm may build it from the Go module proxy (minutes, once per machine);
# every test here is otherwise fast, so the cap only has to cover that one-time build.
pytestmark = pytest.mark.timeout(1800)


def _component(doc: Manifest) -> str:
    return doc["metadata"]["labels"]["app.kubernetes.io/component"]


def _container(deployment: Manifest) -> dict:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


# ------------------------------------------------------------------------------ helm itself


@pytest.mark.parametrize("values_set", sorted(VALUES_SETS))
def test_helm_lint_passes(helm_bin: Path, values_set: str) -> None:
    args = ["lint", str(CHART), "--strict", "--kube-version", KUBE_VERSION]
    for path in VALUES_SETS[values_set]:
        args += ["-f", str(path)]
    result = helm(helm_bin, *args)
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------ offline validation


@pytest.mark.parametrize("values_set", sorted(VALUES_SETS))
def test_every_manifest_validates(rendered: dict[str, list[Manifest]], values_set: str) -> None:
    docs = rendered[values_set]
    assert docs, "the chart rendered nothing"
    problems = []
    for doc in docs:
        try:
            validate_manifest(doc)
        except ManifestError as exc:
            problems.append(str(exc))
    assert not problems, "\n".join(problems)


def test_full_values_render_every_optional_kind(rendered: dict[str, list[Manifest]]) -> None:
    kinds = {d["kind"] for d in rendered["full"]}
    assert {
        "Deployment",
        "Service",
        "ServiceAccount",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ScaledObject",
        "KafkaTopic",
        "ServiceMonitor",
        "PrometheusRule",
        "ConfigMap",
    } <= kinds
    assert "HorizontalPodAutoscaler" not in kinds, "KEDA creates the HPA itself; never both"


def _sample(rendered: dict[str, list[Manifest]], kind: str) -> Manifest:
    return copy.deepcopy(next(d for d in rendered["full"] if d["kind"] == kind))


@pytest.mark.parametrize(
    ("kind", "breakage", "expected"),
    [
        # core kinds through kubernetes-validate --strict
        ("Deployment", lambda d: d["spec"].__setitem__("replicas", "two"), "replicas"),
        ("Deployment", lambda d: d["spec"].pop("selector"), "selector"),
        ("Service", lambda d: d["spec"].__setitem__("clusterIPs", "none"), "clusterIPs"),
        ("NetworkPolicy", lambda d: d["spec"].__setitem__("podSelectr", {}), "podSelectr"),
        # KEDA
        ("ScaledObject", lambda d: d["spec"].__setitem__("maxReplicaCount", "12"), "maxReplicaCount"),
        ("ScaledObject", lambda d: d["spec"].pop("scaleTargetRef"), "scaleTargetRef"),
        ("ScaledObject", lambda d: d["spec"].__setitem__("maxReplicas", 3), "maxReplicas"),
        ("ScaledObject", lambda d: d["spec"]["triggers"][0]["metadata"].__setitem__("lagThreshold", 5), "5"),
        # Strimzi
        ("KafkaTopic", lambda d: d["spec"].__setitem__("partitions", 0), "partitions"),
        ("KafkaTopic", lambda d: d["spec"].__setitem__("retention", "7d"), "retention"),
        ("KafkaTopic", lambda d: d.__setitem__("apiVersion", "kafka.strimzi.io/v1beta1"), "no schema"),
        # Prometheus Operator
        ("ServiceMonitor", lambda d: d["spec"].pop("selector"), "selector"),
        ("ServiceMonitor", lambda d: d["spec"]["endpoints"][0].update(interval="30 seconds"), "interval"),
        ("ServiceMonitor", lambda d: d["spec"]["endpoints"][0].update(scheme="ftp"), "scheme"),
        ("PrometheusRule", lambda d: d["spec"]["groups"][0]["rules"][0].pop("expr"), "expr"),
        (
            "PrometheusRule",
            lambda d: d["spec"]["groups"][0]["rules"][0].update({"for": "ten minutes"}),
            "ten",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_broken_manifest_fails_validation(
    rendered: dict[str, list[Manifest]], kind: str, breakage, expected: str
) -> None:
    doc = _sample(rendered, kind)
    validate_manifest(doc)  # the pristine one passes
    breakage(doc)
    with pytest.raises(ManifestError, match=expected):
        validate_manifest(doc)


def test_an_unknown_kind_is_rejected_not_ignored() -> None:
    doc = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    with pytest.raises(ManifestError, match="no schema"):
        validate_manifest(doc)


# ------------------------------------------------------------------------------ topics


@pytest.mark.parametrize("values_set", ["default", "full"])
def test_kafka_topics_equal_the_contract_topic_specs(
    rendered: dict[str, list[Manifest]], values_set: str
) -> None:
    docs = rendered[values_set]
    prefix = "acme.kxflow." if values_set == "full" else "kxflow."
    default_config = VALUES["kafka"]["topics"]["defaultConfig"]
    topics = {d["spec"]["topicName"]: d["spec"] for d in docs if d["kind"] == "KafkaTopic"}
    expected = {spec.name: spec for spec in Topics(prefix).specs()}
    assert set(topics) == set(expected), "KafkaTopics drifted from kxflow_contracts.topics.Topics.specs()"
    for name, spec in expected.items():
        rendered_spec = topics[name]
        assert rendered_spec["partitions"] == spec.partitions, name
        assert rendered_spec["config"] == {**default_config, **spec.config}, name
        assert rendered_spec["replicas"] == VALUES["kafka"]["topics"]["replicas"]


def test_kafka_topics_carry_the_strimzi_cluster_label(rendered: dict[str, list[Manifest]]) -> None:
    for values_set, cluster in (("default", "kxflow"), ("full", "main")):
        for doc in by_kind(rendered[values_set], "KafkaTopic").values():
            assert doc["metadata"]["labels"]["strimzi.io/cluster"] == cluster
    full_topics = by_kind(rendered["full"], "KafkaTopic").values()
    assert all(d["metadata"]["namespace"] == "kafka" for d in full_topics)


def test_zaps_changelog_is_compacted(rendered: dict[str, list[Manifest]]) -> None:
    zaps = by_kind(rendered["default"], "KafkaTopic")["kxflow.zaps.v1"]
    assert zaps["spec"]["config"]["cleanup.policy"] == "compact"


def test_without_strimzi_the_services_create_their_topics(rendered: dict[str, list[Manifest]]) -> None:
    assert not by_kind(rendered["hpa"], "KafkaTopic")
    for values_set, ensure in (("default", "false"), ("hpa", "true")):
        for dep in by_kind(rendered[values_set], "Deployment").values():
            prefix = SERVICES[_component(dep)][1]
            env = {e["name"]: e.get("value") for e in _container(dep)["env"]}
            assert env[f"{prefix}ENSURE_TOPICS"] == ensure


# ------------------------------------------------------------------------------ workloads


@pytest.mark.parametrize("values_set", sorted(VALUES_SETS))
def test_each_service_has_deployment_service_pdb_and_network_policy(
    rendered: dict[str, list[Manifest]], values_set: str
) -> None:
    docs = rendered[values_set]
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "ServiceAccount"):
        assert {_component(d) for d in docs if d["kind"] == kind} == set(SERVICES), kind
    for dep in by_kind(docs, "Deployment").values():
        pod_labels = dep["spec"]["template"]["metadata"]["labels"]
        assert dep["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        name = dep["metadata"]["name"]
        service = by_kind(docs, "Service")[name]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        assert service["spec"]["ports"][0]["port"] == SERVICES[_component(dep)][0]
        pdb = by_kind(docs, "PodDisruptionBudget")[name]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        policy = by_kind(docs, "NetworkPolicy")[name]
        assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()


@pytest.mark.parametrize("values_set", sorted(VALUES_SETS))
def test_pods_are_hardened(rendered: dict[str, list[Manifest]], values_set: str) -> None:
    for dep in by_kind(rendered[values_set], "Deployment").values():
        pod = dep["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        assert pod["terminationGracePeriodSeconds"] >= 30
        container = _container(dep)
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
        assert "emptyDir" in tmp
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]


@pytest.mark.parametrize("values_set", sorted(VALUES_SETS))
def test_probes_use_the_health_routes_and_gateways_drain(
    rendered: dict[str, list[Manifest]], values_set: str
) -> None:
    for dep in by_kind(rendered[values_set], "Deployment").values():
        container = _container(dep)
        port = SERVICES[_component(dep)][0]
        assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
        assert container["startupProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        if _component(dep) in GATEWAYS:
            assert container["lifecycle"]["preStop"]["sleep"]["seconds"] >= 5


@pytest.mark.parametrize("values_set", sorted(VALUES_SETS))
def test_secrets_are_only_referenced(rendered: dict[str, list[Manifest]], values_set: str) -> None:
    docs = rendered[values_set]
    assert not [d for d in docs if d["kind"] == "Secret"], "the chart must never render secret values"
    secret_name = "kxflow-prod" if values_set == "full" else "kxflow"
    for dep in by_kind(docs, "Deployment").values():
        prefix = SERVICES[_component(dep)][1]
        env = {e["name"]: e for e in _container(dep)["env"]}
        for suffix in ("API_TOKENS", "SECRET_KEYS", "MONGODB_URL"):
            ref = env[prefix + suffix]
            assert "value" not in ref, f"{prefix}{suffix} must come from the Secret"
            assert ref["valueFrom"]["secretKeyRef"]["name"] == secret_name
        if _component(dep) == "xero-gateway":
            client_secret = env["XERO_GW_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]
            assert client_secret["key"] == "xero-client-secret"
        if values_set == "full":  # SASL_SSL to Kafka, TLS and a user per service to MongoDB
            assert env[prefix + "KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
            for suffix in ("KAFKA_SASL_PASSWORD", "MONGODB_PASSWORD"):
                assert env[prefix + suffix]["valueFrom"]["secretKeyRef"]["name"] == secret_name
            mounts = {m["mountPath"]: m for m in _container(dep)["volumeMounts"]}
            for var in ("KAFKA_SSL_CAFILE", "MONGODB_TLS_CA_FILE"):
                path = env[prefix + var]["value"]
                assert mounts[path.rsplit("/", 1)[0]]["readOnly"] is True


def test_router_finds_the_gateways_by_their_service_names(rendered: dict[str, list[Manifest]]) -> None:
    docs = rendered["default"]
    services = {name: d["spec"]["ports"][0]["port"] for name, d in by_kind(docs, "Service").items()}
    router = next(d for d in by_kind(docs, "Deployment").values() if _component(d) == "router")
    env = {e["name"]: e.get("value") for e in _container(router)["env"]}
    for var in ("ROUTER_KARTRA_GATEWAY_URL", "ROUTER_XERO_GATEWAY_URL"):
        host, port = env[var].removeprefix("http://").split(":")
        assert services[host] == int(port)


def test_replicated_gateways_share_their_rate_limits(rendered: dict[str, list[Manifest]]) -> None:
    """Two or more replicas by default: each gateway counts its upstream limits across all of them."""
    for dep in by_kind(rendered["default"], "Deployment").values():
        component = _component(dep)
        if component not in GATEWAYS:
            continue
        env = {e["name"]: e.get("value") for e in _container(dep)["env"]}
        assert env[f"{SERVICES[component][1]}SHARED_RATE_LIMITS"] == "true"


def test_every_service_env_uses_its_own_prefix(rendered: dict[str, list[Manifest]]) -> None:
    for dep in by_kind(rendered["default"], "Deployment").values():
        prefix = SERVICES[_component(dep)][1]
        names = [e["name"] for e in _container(dep)["env"]]
        assert all(n.startswith(prefix) for n in names), names
        required = {f"{prefix}{s}" for s in ("KAFKA_BOOTSTRAP_SERVERS", "TOPIC_PREFIX", "HTTP_PORT")}
        assert required <= set(names)


# ------------------------------------------------------------------------------ autoscaling


@pytest.mark.parametrize("values_set", ["default", "full"])
def test_keda_scales_each_service_on_its_consumer_group_lag(
    rendered: dict[str, list[Manifest]], values_set: str
) -> None:
    docs = rendered[values_set]
    topics = by_kind(docs, "KafkaTopic").values()
    partitions = {d["spec"]["topicName"]: d["spec"]["partitions"] for d in topics}
    deployments = by_kind(docs, "Deployment")
    scaled = by_kind(docs, "ScaledObject")
    assert set(scaled) == set(deployments)
    for name, so in scaled.items():
        assert so["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert "replicas" not in deployments[name]["spec"], "KEDA owns the replica count"
        group = SERVICES[_component(so)][2]
        assert so["spec"]["triggers"], name
        for trigger in so["spec"]["triggers"]:
            assert trigger["type"] == "kafka"
            assert trigger["metadata"]["consumerGroup"] == group
            topic = trigger["metadata"]["topic"]
            assert topic in partitions, f"{name} scales on {topic}, which no KafkaTopic declares"
            assert so["spec"]["maxReplicaCount"] <= partitions[topic]
            assert so["spec"]["minReplicaCount"] <= so["spec"]["maxReplicaCount"]


def test_full_values_wire_keda_authentication(rendered: dict[str, list[Manifest]]) -> None:
    for so in by_kind(rendered["full"], "ScaledObject").values():
        assert all(t["authenticationRef"] == {"name": "kafka-sasl"} for t in so["spec"]["triggers"])


def test_hpa_mode_renders_hpas_instead(rendered: dict[str, list[Manifest]]) -> None:
    docs = rendered["hpa"]
    assert not by_kind(docs, "ScaledObject")
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    assert set(hpas) == set(by_kind(docs, "Deployment"))


def test_autoscaling_none_keeps_the_replica_count(helm_bin: Path) -> None:
    docs = render(helm_bin, sets=["autoscaling.mode=none", "services.router.replicaCount=3"])
    assert not by_kind(docs, "ScaledObject") and not by_kind(docs, "HorizontalPodAutoscaler")
    replicas = {_component(d): d["spec"]["replicas"] for d in by_kind(docs, "Deployment").values()}
    assert replicas == {"router": 3, "kartra-gateway": 2, "xero-gateway": 2}


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["services.kartra-gateway.autoscaling.maxReplicas=13"], "exceeds the 12 partitions"),
        (["services.router.lagTopics={nope.v1}"], "not in kafka.topics.list"),
        (["secrets.existingSecret="], "secrets.existingSecret is required"),
        (["terminationGracePeriodSeconds=10"], "terminationGracePeriodSeconds"),
        (["autoscaling.mode=kdea"], "autoscaling.mode"),
        (["services.routr.enabled=true"], "routr"),
    ],
)
def test_invalid_values_fail_rendering_with_a_reason(helm_bin: Path, sets: list[str], message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        render(helm_bin, sets=sets)


# ------------------------------------------------------------------------------ network policies


def _policies(rendered: dict[str, list[Manifest]], values_set: str) -> dict[str, Manifest]:
    return {_component(d): d for d in by_kind(rendered[values_set], "NetworkPolicy").values()}


def _egress_ports(policy: Manifest) -> set[int]:
    return {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}


def test_network_policies_deny_by_default_and_open_only_what_is_needed(
    rendered: dict[str, list[Manifest]],
) -> None:
    policies = _policies(rendered, "default")
    for svc, policy in policies.items():
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        ports = _egress_ports(policy)
        assert {53, 9092, 27017} <= ports, svc
        internet = [r for r in policy["spec"]["egress"] for peer in r["to"] if "ipBlock" in peer]
        if svc in GATEWAYS:
            assert len(internet) == 1 and [p["port"] for p in internet[0]["ports"]] == [443]
            assert "10.0.0.0/8" in internet[0]["to"][0]["ipBlock"]["except"]
            http_rule = policy["spec"]["ingress"][0]
            assert "from" not in http_rule, "by default webhooks may come from anywhere"
        else:
            assert not internet, "the router never talks to the internet"
            assert {8020, 8030} <= ports
            admin = policy["spec"]["ingress"][0]["from"][0]["namespaceSelector"]
            assert admin == {"matchLabels": {"kxflow.io/router-admin": "true"}}


def test_restricted_gateway_ingress_still_admits_the_router(rendered: dict[str, list[Manifest]]) -> None:
    policies = _policies(rendered, "full")
    for gw in GATEWAYS:
        peers = policies[gw]["spec"]["ingress"][0]["from"]
        selectors = [p.get("podSelector", {}).get("matchLabels", {}) for p in peers]
        assert any(s.get("app.kubernetes.io/component") == "router" for s in selectors)
        assert any("namespaceSelector" in p for p in peers)
    assert 4318 in _egress_ports(policies["router"]), "OTLP egress opens when otlpEndpoint is set"


# ------------------------------------------------------------------------------ values.yaml


def _undocumented_leaves(text: str) -> list[str]:
    """Leaf keys of values.yaml with no comment above them or above one of their parents."""
    lines = text.splitlines()
    missing: list[str] = []

    def documented(node_line: int) -> bool:
        prev = node_line - 1
        while prev >= 0 and not lines[prev].strip():
            prev -= 1
        return prev >= 0 and lines[prev].lstrip().startswith("#")

    def walk(node: yaml.Node, path: str, inherited: bool) -> None:
        if not isinstance(node, yaml.MappingNode):
            return
        for key, value in node.value:
            here = f"{path}.{key.value}" if path else key.value
            ok = inherited or documented(key.start_mark.line)
            if isinstance(value, yaml.MappingNode) and value.value and value.flow_style is False:
                walk(value, here, ok)
            elif not ok:
                missing.append(here)

    walk(yaml.compose(text), "", False)
    return missing


def test_every_value_is_documented() -> None:
    assert _undocumented_leaves((CHART / "values.yaml").read_text()) == []


def test_the_documentation_check_can_fail() -> None:
    assert _undocumented_leaves("# -- documented\na: 1\nb:\n  c: 2\n") == ["b.c"]


def test_cached_helm_is_the_version_go_mod_pins(helm_bin: Path) -> None:
    go_mod = (CHART.parents[1] / "tools" / "helm" / "go.mod").read_text()
    pinned = next(ln.split()[1] for ln in go_mod.splitlines() if ln.strip().startswith("helm.sh/helm/v3 "))
    assert helm(helm_bin, "version", "--template", "{{ .Version }}").stdout.strip() == pinned
    mtime = helm_bin.stat().st_mtime_ns
    assert build_helm() == helm_bin and helm_bin.stat().st_mtime_ns == mtime, "a cached helm must not rebuild"


@pytest.mark.parametrize("values_set", ["default", "full"])
def test_every_env_var_the_chart_sets_is_a_real_setting(
    rendered: dict[str, list[Manifest]], values_set: str
) -> None:
    """A misspelt variable would be silently ignored by pydantic-settings (extra="ignore")."""
    fields = settings_fields()
    for dep in by_kind(rendered[values_set], "Deployment").values():
        svc = _component(dep)
        unknown = unknown_settings(svc, [e["name"] for e in _container(dep)["env"]], fields)
        assert not unknown, f"{svc}: {unknown} match no field of its settings class"
