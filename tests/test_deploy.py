"""The Kubernetes deployment: the objects ``campushub manifests`` makes from a catalog validate
against Kubernetes' own schemas (offline, kubernetes-validate, strict) and say what they should;
the zero-to-jupyterhub values in docs/deploy/ use the chart's key names and wire campushub in;
the cluster CI workflow does what it is for.

Nothing here talks to a cluster: the workflow .github/workflows/cluster.yml does, where one
exists.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from campushub.catalog import Catalog, load_catalog, parse_catalog
from campushub.cli import main
from campushub.demo.launch import DEMO_CATALOG
from campushub.manifests import (
    CATALOG_CONFIGMAP,
    CATALOG_KEY,
    PAUSE_IMAGE,
    PRIORITY_CLASS,
    PULL_ONLY_COMMAND,
    SCALER_ROLE,
    Storage,
    manifests,
    pool_images,
)
from campushub.units import format_cpu, format_memory

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "docs" / "deploy"
VALUES = DEPLOY / "values.yaml"
CI_DIR = ROOT / ".github" / "cluster"
WORKFLOW = ROOT / ".github" / "workflows" / "cluster.yml"
Z2JH_KEYS = Path(__file__).parent / "z2jh-4.3.3-values-keys.txt"
# The oldest Kubernetes zero-to-jupyterhub 4.3 supports, and the one the CI workflow runs.
KUBERNETES_VERSIONS = ("1.28.0", "1.33.0")
# The scaler's settings (campushub.services.scaler), which the values file passes on.
SCALER_VARIABLES = {
    "CAMPUSHUB_SCALER_URL",
    "CAMPUSHUB_SCALER_DRY_RUN",
    "CAMPUSHUB_SCALER_FEEDS",
    "CAMPUSHUB_SCALER_NAMESPACE",
    "CAMPUSHUB_SCALER_INTERVAL",
    "CAMPUSHUB_SCALER_ATTENDANCE",
}


def every_key_catalog_text() -> str:
    """The catalog reference's example that uses every key: two placeholder kinds, a
    namespace of its own, unit `user`, tolerations."""
    page = (ROOT / "docs" / "reference" / "catalog.md").read_text()
    section = page[page.index("### Every key") :]
    return re.search(r"```yaml\n(.*?)^```", section, re.S | re.M)[1]


CATALOGS = {
    "demo": DEMO_CATALOG.read_text(),
    "ci": (CI_DIR / "courses.yaml").read_text(),
    "every-key": every_key_catalog_text(),
}


def made(name: str, namespace: str = "campushub", **options: Any) -> list[dict[str, Any]]:
    text = CATALOGS[name]
    return manifests(parse_catalog(text), namespace=namespace, catalog_text=text, **options)


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [item for item in objects if item["kind"] == kind]


# -- the manifests ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", sorted(CATALOGS))
def test_manifests_validate_against_kubernetes_schemas(name, version):
    for item in made(name, storage=Storage(storage_class="nfs-client")):
        kubernetes_validate.validate(item, version, strict=True)


def test_a_wrong_manifest_is_refused_by_the_validation():
    (placeholder,) = of_kind(made("demo"), "PodTemplate")
    placeholder["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(placeholder, "1.33.0", strict=True)


def test_priority_class_is_below_every_server_and_never_preempts():
    (priority_class,) = of_kind(made("demo"), "PriorityClass")
    # Cluster-wide, so named after the release (zero-to-jupyterhub's default: jupyterhub).
    assert priority_class["metadata"]["name"] == f"jupyterhub-{PRIORITY_CLASS}"
    assert priority_class["value"] == -10
    assert priority_class["preemptionPolicy"] == "Never"
    assert priority_class["globalDefault"] is False


def test_catalog_config_map_holds_the_catalog_as_written():
    (config_map,) = of_kind(made("demo"), "ConfigMap")
    assert config_map["metadata"] == {
        "name": CATALOG_CONFIGMAP,
        "namespace": "campushub",
        "labels": {"app.kubernetes.io/part-of": "campushub"},
    }
    assert config_map["data"] == {"courses.yaml": CATALOGS["demo"]}
    parse_catalog(config_map["data"][CATALOG_KEY])  # still a valid catalog


def test_demo_placeholder_is_a_node_warmed_with_every_image_of_its_pool():
    pool = load_catalog(DEMO_CATALOG).pools["standard"]
    # kind Pods: the template the scaler makes each placeholder pod from (it makes `min`)
    assert pool.placeholder is not None and pool.placeholder.kind == "Pods"
    (placeholder,) = of_kind(made("demo"), "PodTemplate")
    assert placeholder["apiVersion"] == "v1"
    assert placeholder["metadata"]["name"] == "standard-placeholder"
    assert placeholder["metadata"]["namespace"] == "campushub"
    assert "spec" not in placeholder and not of_kind(made("demo"), "Deployment")
    labels = {"app.kubernetes.io/name": "campushub-placeholder", "campushub/pool": "standard"}
    pod = placeholder["template"]
    assert pod["metadata"]["labels"] == labels
    spec = pod["spec"]
    assert spec["priorityClassName"] == "jupyterhub-campushub-placeholder"
    assert spec["schedulerName"] == "jupyterhub-user-scheduler"
    assert spec["terminationGracePeriodSeconds"] == 0
    assert spec["nodeSelector"] == {"hub.jupyter.org/pool-name": "standard"}
    (pause,) = spec["containers"]
    assert pause["image"] == PAUSE_IMAGE
    # unit: node, so one node's CPU and memory (the demo's are 8 and 64Gi)
    requests = {"cpu": format_cpu(pool.node_cpu), "memory": format_memory(pool.node_memory)}
    assert pause["resources"] == {"requests": requests}
    assert [(c["name"], c["image"]) for c in spec["initContainers"]] == [
        ("pull-python", "ghcr.io/campushub/python:2026.08"),
        ("pull-r", "ghcr.io/campushub/r:2026.08"),
        ("pull-julia", "ghcr.io/campushub/julia:2026.08"),
    ]
    for init in spec["initContainers"]:
        assert init["command"] == ["/bin/sh", "-c", "exit 0"] == list(PULL_ONLY_COMMAND)


def test_placeholders_follow_their_pools_kind_namespace_unit_and_tolerations():
    objects = made("every-key", namespace="jupyter")
    (standard,) = of_kind(objects, "Deployment")
    (gpu,) = of_kind(objects, "StatefulSet")
    assert (standard["metadata"]["namespace"], standard["spec"]["replicas"]) == ("jupyter", 1)
    assert (gpu["metadata"]["name"], gpu["metadata"]["namespace"]) == ("gpu-placeholder", "hub")
    assert gpu["spec"]["replicas"] == 0
    assert gpu["spec"]["podManagementPolicy"] == "Parallel"
    spec = gpu["spec"]["template"]["spec"]
    # unit: user, so one person's largest guarantee: cs189's 2 CPU, 8Gi and its GPU (which,
    # as an extended resource, is limited to what is requested).
    assert spec["containers"][0]["resources"] == {
        "requests": {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"},
        "limits": {"nvidia.com/gpu": "1"},
    }
    assert spec["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "campus.edu/dedicated", "operator": "Equal", "value": "teaching"},
    ]
    assert [c["image"] for c in spec["initContainers"]] == ["ghcr.io/campus/python:2026.08"]
    # The standard pool holds the defaults' image (python) and stat20's (r).
    images = [c["image"] for c in standard["spec"]["template"]["spec"]["initContainers"]]
    assert images == ["ghcr.io/campus/python:2026.08", "ghcr.io/campus/r:2026.08"]


def test_init_containers_are_exactly_the_images_of_the_pools_servers():
    for name in CATALOGS:
        catalog: Catalog = parse_catalog(CATALOGS[name])
        placeholders = [
            o for o in made(name) if o["kind"] in ("Deployment", "StatefulSet", "PodTemplate")
        ]
        for placeholder in placeholders:
            pool = catalog.pools[placeholder["metadata"]["labels"]["campushub/pool"]]
            template = placeholder.get("template") or placeholder["spec"]["template"]
            expected = {
                course.image.ref for course in catalog.courses.values() if course.pool is pool
            }
            if catalog.defaults.pool is pool:
                expected.add(catalog.defaults.image.ref)
            init = template["spec"]["initContainers"]
            assert [c["image"] for c in init] == pool_images(catalog, pool)
            assert set(pool_images(catalog, pool)) == expected
            assert len({c["name"] for c in init}) == len(init)


def test_scaler_may_only_list_nodes_and_the_pods_of_its_own_namespace():
    objects = made("demo", namespace="campus")
    (role,) = of_kind(objects, "ClusterRole")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]
    (binding,) = of_kind(objects, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "hub", "namespace": "campus"}]
    pods = [r for r in of_kind(objects, "Role") if r["metadata"]["name"] == "campushub-scaler-room"]
    assert len(pods) == 1 and pods[0]["metadata"]["namespace"] == "campus"
    assert pods[0]["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]


def test_scaler_lists_pods_where_servers_and_placeholders_run_and_nowhere_else():
    # every-key's gpu placeholder lives in the namespace "hub"; the servers in "jupyter".
    objects = made("every-key", namespace="jupyter")
    roles = [
        r for r in of_kind(objects, "Role") if r["metadata"]["name"] == "campushub-scaler-room"
    ]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["hub", "jupyter"]
    bindings = [
        b
        for b in of_kind(objects, "RoleBinding")
        if b["roleRef"]["name"] == "campushub-scaler-room"
    ]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["hub", "jupyter"]
    for binding in bindings:
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "hub", "namespace": "jupyter"}
        ]


def test_scaler_role_allows_only_reading_and_resizing_placeholders():
    objects = made("every-key", namespace="jupyter")
    roles = {
        role["metadata"]["namespace"]: role
        for role in of_kind(objects, "Role")
        if role["metadata"]["name"] == SCALER_ROLE
    }
    assert set(roles) == {"hub", "jupyter"}
    for namespace, placeholder in (("jupyter", "standard-placeholder"), ("hub", "gpu-placeholder")):
        role = roles[namespace]
        assert role["metadata"]["name"] == SCALER_ROLE == "campushub-scaler"
        verbs: dict[str, set[str]] = {}
        for rule in role["rules"]:
            assert rule["apiGroups"] == ["apps"]
            assert rule.get("resourceNames", [placeholder]) == [placeholder]
            for resource in rule["resources"]:
                verbs.setdefault(resource, set()).update(rule["verbs"])
        assert verbs == {
            "deployments": {"get", "list"},
            "statefulsets": {"get", "list"},
            "deployments/scale": {"get", "patch", "update"},
            "statefulsets/scale": {"get", "patch", "update"},
        }
    for binding in of_kind(objects, "RoleBinding"):
        if binding["metadata"]["name"] != SCALER_ROLE:
            continue
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "campushub-scaler",
        }
        # The scaler runs in the hub pod, as zero-to-jupyterhub's hub ServiceAccount.
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "hub", "namespace": "jupyter"}
        ]


def test_pods_placeholders_may_read_their_template_and_make_and_delete_pods_only():
    objects = made("demo", namespace="campus")
    (role,) = [r for r in of_kind(objects, "Role") if r["metadata"]["name"] == SCALER_ROLE]
    assert role["metadata"]["namespace"] == "campus"
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["podtemplates"],
            "resourceNames": ["standard-placeholder"],
            "verbs": ["get"],
        },
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "create", "delete"]},
    ]
    # Both kinds in one namespace: each its own rules, nothing more.
    text = CATALOGS["every-key"].replace(
        "placeholder: {name: standard-placeholder}",
        "placeholder: {kind: Pods, name: standard-placeholder}",
    )
    assert text != CATALOGS["every-key"]
    mixed = manifests(parse_catalog(text), namespace="hub", catalog_text=text)
    (role,) = [r for r in of_kind(mixed, "Role") if r["metadata"]["name"] == SCALER_ROLE]
    names = {tuple(rule.get("resourceNames", ())) for rule in role["rules"]}
    assert names == {(), ("gpu-placeholder",), ("standard-placeholder",)}
    assert [o["metadata"]["name"] for o in of_kind(mixed, "PodTemplate")] == [
        "standard-placeholder"
    ]


def test_release_and_service_account_are_the_callers():
    objects = made("demo", release="campus", service_account="hub-sa")
    (placeholder,) = of_kind(objects, "PodTemplate")
    assert placeholder["template"]["spec"]["schedulerName"] == "campus-user-scheduler"
    bindings = of_kind(objects, "RoleBinding") + of_kind(objects, "ClusterRoleBinding")
    assert len(bindings) == 3
    assert {binding["subjects"][0]["name"] for binding in bindings} == {"hub-sa"}


def test_a_catalog_without_placeholders_needs_no_role():
    text = CATALOGS["demo"].replace(
        "    placeholder: {kind: Pods, name: standard-placeholder}\n", ""
    )
    objects = manifests(parse_catalog(text), namespace="campushub", catalog_text=text)
    assert [item["kind"] for item in objects] == ["PriorityClass", "ConfigMap"]


def test_manifests_command_prints_them_as_yaml(capsys):
    assert main(["manifests", str(DEMO_CATALOG), "--namespace", "campushub"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# campushub manifests ")
    assert "&id" not in out  # no YAML anchors
    assert "  courses.yaml: |\n" in out  # the catalog as a readable block
    assert list(yaml.safe_load_all(out)) == made("demo")  # no claims: see --claims


def test_claims_are_the_shared_home_and_each_courses_data():
    objects = made("demo", storage=Storage())
    claims = {c["metadata"]["name"]: c for c in of_kind(objects, "PersistentVolumeClaim")}
    catalog = parse_catalog(CATALOGS["demo"])
    course_data = {c.shared.volume for c in catalog.courses.values() if c.shared is not None}
    assert set(claims) == {"home-nfs", *course_data}
    for claim in claims.values():
        assert claim["metadata"]["namespace"] == "campushub"
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
        assert "storageClassName" not in claim["spec"]  # the cluster's default class
    assert claims["home-nfs"]["spec"]["resources"]["requests"]["storage"] == "100Gi"
    # Before the placeholders and servers that mount them.
    kinds = [item["kind"] for item in objects]
    assert kinds.index("PersistentVolumeClaim") < kinds.index("PodTemplate")


def test_claims_follow_the_options_and_the_catalogs_homes():
    text = CATALOGS["demo"]
    storage = Storage(
        home_claim="homes-filestore",
        storage_class="filestore-rwx",
        access_mode="ReadWriteOnce",
        home_size="1Ti",
        course_data_size="50Gi",
    )
    claims = of_kind(made("demo", storage=storage), "PersistentVolumeClaim")
    home = next(c for c in claims if c["metadata"]["name"] == "homes-filestore")
    assert home["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Ti"}},
        "storageClassName": "filestore-rwx",
    }
    # Every course (and the general environment) with a home of its own: no shared home claim.
    per_course = text.replace("defaults:\n", "defaults:\n  home: per-course\n")
    catalog = parse_catalog(per_course)
    assert all(course.home == "per-course" for course in catalog.courses.values())
    names = {
        c["metadata"]["name"]
        for c in of_kind(
            manifests(catalog, namespace="n", catalog_text=per_course, storage=Storage()),
            "PersistentVolumeClaim",
        )
    }
    assert "home-nfs" not in names
    # Without storage (the command without --claims), none.
    assert not of_kind(made("demo"), "PersistentVolumeClaim")


def test_two_releases_share_a_cluster():
    production = made("demo", namespace="hub", release="jupyterhub")
    staging = made("demo", namespace="hub-staging", release="staging")

    def cluster_wide(objects: list[dict[str, Any]]) -> set[tuple[str, str]]:
        kinds = {"PriorityClass", "ClusterRole", "ClusterRoleBinding"}
        return {(o["kind"], o["metadata"]["name"]) for o in objects if o["kind"] in kinds}

    assert len(cluster_wide(production)) == 3
    assert not cluster_wide(production) & cluster_wide(staging)
    for objects, release in ((production, "jupyterhub"), (staging, "staging")):
        (binding,) = of_kind(objects, "ClusterRoleBinding")
        (role,) = of_kind(objects, "ClusterRole")
        assert binding["roleRef"]["name"] == role["metadata"]["name"]
        (placeholder,) = of_kind(objects, "PodTemplate")
        (priority,) = of_kind(objects, "PriorityClass")
        pod = placeholder["template"]["spec"]
        assert pod["priorityClassName"] == priority["metadata"]["name"]
        assert pod["schedulerName"] == f"{release}-user-scheduler"


def test_claims_are_printed_apart_from_the_other_objects(capsys):
    # Claims hold people's homes: a `kubectl delete -f` of the other objects must not reach them.
    argv = ["manifests", str(DEMO_CATALOG), "--namespace", "campushub", "--claims"]
    assert main([*argv, "--storage-class", "nfs-client"]) == 0
    printed = list(yaml.safe_load_all(capsys.readouterr().out))
    assert {item["kind"] for item in printed} == {"PersistentVolumeClaim"}
    expected = of_kind(
        made("demo", storage=Storage(storage_class="nfs-client")), "PersistentVolumeClaim"
    )
    assert printed == expected


def test_manifests_command_refuses_a_bad_catalog(capsys):
    bad = Path(__file__).parent / "bad_catalogs" / "many_problems.yaml"
    assert main(["manifests", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "the catalog is refused" in captured.err
    assert "courses.data8.memory.limit: '1 GB' is not a quantity" in captured.err


# -- the zero-to-jupyterhub values --------------------------------------------------------------


def z2jh_keys() -> tuple[set[str], set[str]]:
    """zero-to-jupyterhub 4.3.3's value keys, and the keys under which any key is allowed."""
    lines = [line for line in Z2JH_KEYS.read_text().splitlines() if not line.startswith("#")]
    return {line for line in lines if not line.endswith(".*")}, {
        line[:-2] for line in lines if line.endswith(".*")
    }


def unknown_keys(values: dict[str, Any], prefix: str = "") -> list[str]:
    """The keys of ``values`` that zero-to-jupyterhub 4.3.3 does not have."""
    known, open_ = z2jh_keys()
    unknown = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if prefix and prefix[:-1] in open_:
            continue
        if path not in known:
            unknown.append(path)
        elif isinstance(value, dict) and any(k.startswith(path + ".") for k in known):
            unknown += unknown_keys(value, path + ".")
    return unknown


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text())


def test_values_use_only_zero_to_jupyterhub_keys(values):
    assert unknown_keys(values) == []
    assert unknown_keys(yaml.safe_load((CI_DIR / "values.yaml").read_text())) == []


def test_key_check_catches_a_misspelt_key(values):
    assert unknown_keys({"hub": {"extraEnvv": {}}, "prePuller": {"hook": {"enabld": True}}}) == [
        "hub.extraEnvv",
        "prePuller.hook.enabld",
    ]
    assert unknown_keys({"hub": {"config": {"CourseKubeSpawner": {"anything": 1}}}}) == []


def test_values_run_the_campushub_hub_image_and_reference_configuration(values):
    hub = values["hub"]
    assert hub["image"]["name"] == "ghcr.io/campushub/hub"
    assert hub["image"]["tag"].startswith("4.3.3-")  # the chart version it is built for
    dockerfile = (ROOT / "images" / "hub" / "Dockerfile").read_text()
    assert "ARG Z2JH_VERSION=4.3.3" in dockerfile
    assert "jupyterhub_config.py /srv/campushub/" in dockerfile
    (config_py,) = hub["extraConfig"].values()
    assert 'reference = "/srv/campushub/jupyterhub_config.py"' in config_py
    assert "load_subconfig(reference)" in config_py
    compile(config_py, "hub.extraConfig", "exec")
    assert hub["config"]["JupyterHub"]["authenticator_class"] == "campus"
    assert hub["allowNamedServers"] is True
    # What the reference configuration defines is not defined again.
    for key in ("services", "loadRoles", "namedServerLimitPerUser"):
        assert key not in hub


def test_values_mount_the_catalog_config_map_where_the_hub_reads_it(values):
    hub = values["hub"]
    catalog_path = Path(hub["extraEnv"]["CAMPUSHUB_CATALOG"])
    (volume,) = [v for v in hub["extraVolumes"] if v.get("configMap")]
    assert volume["configMap"]["name"] == CATALOG_CONFIGMAP
    (mount,) = [m for m in hub["extraVolumeMounts"] if m["name"] == volume["name"]]
    assert Path(mount["mountPath"]) / CATALOG_KEY == catalog_path
    assert mount["readOnly"] is True


def environment_variables_in_readme() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- environment-variables-start -->")[1].split(
        "<!-- environment-variables-end -->"
    )[0]
    return set(re.findall(r"^\| `([A-Z_]+)`", table, re.M))


def test_values_set_the_environment_the_reference_configuration_reads(values):
    environment = values["hub"]["extraEnv"]
    campushub_variables = {name for name in environment if name.startswith("CAMPUSHUB_")}
    documented = environment_variables_in_readme() | SCALER_VARIABLES
    assert campushub_variables - documented == set()
    for name in ("CAMPUSHUB_OIDC_CLIENT_ID", "CAMPUSHUB_OIDC_CLIENT_SECRET", "PGPASSWORD"):
        assert environment[name]["valueFrom"]["secretKeyRef"]["name"] == "campushub-secrets"
    crypt_key = environment["JUPYTERHUB_CRYPT_KEY"]["valueFrom"]["secretKeyRef"]
    assert crypt_key == {"name": "hub", "key": "hub.config.CryptKeeper.keys"}
    assert environment["CAMPUSHUB_SCALER_DRY_RUN"] in ("0", "1")


def test_values_expose_the_services_to_the_proxy_and_grading_to_servers(values):
    hub = values["hub"]
    environment = hub["extraEnv"]
    ports = {port["port"]: port["targetPort"] for port in hub["service"]["extraPorts"]}
    assert ports == {10101: 10101, 10102: 10102, 10103: 10103}
    assert environment["CAMPUSHUB_LINKS_URL"] == "http://hub:10101"
    assert environment["CAMPUSHUB_SCALER_URL"] == "http://hub:10102"
    assert environment["CAMPUSHUB_GRADING_URL"] == "http://hub:10103"
    assert hub["networkPolicy"]["enabled"] is True
    allowed = {
        port["port"]: rule["from"]
        for rule in hub["networkPolicy"]["ingress"]
        for port in rule["ports"]
    }
    proxy = {"app.kubernetes.io/component": "proxy", "app.kubernetes.io/instance": "jupyterhub"}
    for port in (10101, 10102):
        assert {"podSelector": {"matchLabels": proxy}} in allowed[port]
    egress_ports = {
        port["port"]
        for rule in values["proxy"]["chp"]["networkPolicy"]["egress"]
        for port in rule["ports"]
    }
    assert egress_ports == {10101, 10102}
    # Course servers, and only they, reach the grading service; its folder is a volume.
    servers = {
        "app.kubernetes.io/component": "singleuser-server",
        "app.kubernetes.io/instance": "jupyterhub",
    }
    assert allowed[10103] == [{"podSelector": {"matchLabels": servers}}]
    server_egress = {
        port["port"]
        for rule in values["singleuser"]["networkPolicy"]["egress"]
        for port in rule["ports"]
    }
    assert server_egress == {10103}
    mounts = {m["name"]: m["mountPath"] for m in hub["extraVolumeMounts"]}
    assert mounts["campushub-exchange"] == environment["CAMPUSHUB_GRADING_EXCHANGE_DIR"]


def test_values_keep_the_hub_database_in_postgresql(values):
    db = values["hub"]["db"]
    assert db["type"] == "postgres"
    assert db["url"].startswith("postgresql://")
    assert ":" not in db["url"].split("//")[1].split("@")[0]  # no password in the URL
    assert "password" not in db
    links = values["hub"]["extraEnv"]["CAMPUSHUB_LINKS_DB_URL"]
    assert links["valueFrom"]["secretKeyRef"]["name"] == "campushub-secrets"


def test_values_leave_culling_profiles_and_placeholders_to_campushub(values):
    assert values["cull"]["enabled"] is False
    assert "profileList" not in values.get("singleuser", {})
    assert values["singleuser"]["storage"]["type"] == "none"
    scheduling = values["scheduling"]
    assert scheduling["userScheduler"]["enabled"] is True
    assert scheduling["podPriority"]["enabled"] is True
    assert scheduling["userPlaceholder"]["enabled"] is False


def test_values_pre_pull_exactly_the_demo_catalogs_images(values):
    catalog = load_catalog(DEMO_CATALOG)
    pulled = {
        f"{image['name']}:{image['tag']}" for image in values["prePuller"]["extraImages"].values()
    }
    assert pulled == {image.ref for image in catalog.images.values()}
    singleuser = values["singleuser"]["image"]
    assert f"{singleuser['name']}:{singleuser['tag']}" == catalog.defaults.image.ref
    assert values["prePuller"]["hook"]["enabled"] is True


def test_values_use_a_proxy_with_https(values):
    proxy = values["proxy"]
    assert proxy["https"]["enabled"] is True
    assert proxy["https"]["hosts"]
    assert (
        values["hub"]["extraEnv"]["CAMPUSHUB_PUBLIC_URL"] == f"https://{proxy['https']['hosts'][0]}"
    )


def kubernetes_blocks(markdown: str) -> list[dict[str, Any]]:
    """The Kubernetes objects in a page's ```yaml blocks (those with apiVersion and kind)."""
    objects = []
    for block in re.findall(r"^```yaml\n(.*?)^```", markdown, re.S | re.M):
        for document in yaml.safe_load_all(block):
            if isinstance(document, dict) and {"apiVersion", "kind"} <= set(document):
                objects.append(document)
    return objects


def test_objects_shown_in_the_deployment_guide_validate():
    objects = [
        item for page in sorted(DEPLOY.glob("*.md")) for item in kubernetes_blocks(page.read_text())
    ]
    assert objects, "the guide shows no Kubernetes object"
    for item in objects:
        kubernetes_validate.validate(item, "1.33.0", strict=True)


def test_placeholder_shown_in_the_guide_is_the_demo_catalogs():
    (shown,) = kubernetes_blocks((DEPLOY / "placeholders.md").read_text())
    (placeholder,) = of_kind(made("demo"), "PodTemplate")
    assert shown == placeholder


# -- the cluster CI workflow --------------------------------------------------------------------


def test_ci_services_validate_and_ci_catalog_loads():
    documents = list(yaml.safe_load_all((CI_DIR / "services.yaml").read_text()))
    assert {item["kind"] for item in documents} == {"Deployment", "Service", "ConfigMap"}
    for version in KUBERNETES_VERSIONS:
        for item in documents:
            kubernetes_validate.validate(item, version, strict=True)
    load_catalog(CI_DIR / "courses.yaml")


def test_workflow_installs_the_chart_on_k3s_and_runs_the_cluster_tests():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert set(workflow.get("on", workflow.get(True))) >= {"push", "pull_request"}
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    uses = [step.get("uses", "") for step in steps]
    assert any(use.startswith("jupyterhub/action-k3s-helm@") for use in uses)
    script = "\n".join(step.get("run", "") for step in steps)
    assert "docker build --file images/hub/Dockerfile" in script
    assert "k3s ctr images import" in script
    assert "campushub manifests .github/cluster/courses.yaml" in script
    assert "--values docs/deploy/values.yaml --values .github/cluster/values.yaml" in script
    assert '--version "$CHART_VERSION"' in script and workflow["env"]["CHART_VERSION"] == "4.3.3"
    (test_step,) = [step for step in steps if "pytest -m cluster" in step.get("run", "")]
    assert test_step["env"]["CAMPUSHUB_TEST_CLUSTER"] == "1"
    assert "KUBECONFIG" in test_step["env"]
    ci_values = yaml.safe_load((CI_DIR / "values.yaml").read_text())
    assert ci_values["hub"]["image"]["tag"] == "ci"
    assert "ghcr.io/campushub/hub:ci" in script
    # People log in through the cluster's proxy and provider (tests/test_cluster_campus.py),
    # at the addresses the hub itself uses; no check accepts a bare redirect as success.
    environment = ci_values["hub"]["extraEnv"]
    assert test_step["env"]["CAMPUSHUB_TEST_HUB_URL"] == environment["CAMPUSHUB_PUBLIC_URL"]
    assert test_step["env"]["CAMPUSHUB_TEST_IDP_URL"] == environment["CAMPUSHUB_OIDC_ISSUER"]
    assert "302" not in script
    assert "--release jupyterhub" in script
    assert "--claims" in script
