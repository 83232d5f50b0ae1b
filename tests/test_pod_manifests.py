"""Pod manifests for course servers, built by the real KubeSpawner code with no cluster.

``CourseKubeSpawner`` is constructed as JupyterHub would (a user from JupyterHub's own ORM,
in an in-memory database, whose course groups the authenticator would have written), then
applies the plan and asks KubeSpawner for the pod. KubeSpawner reads a kubeconfig when it is
constructed, so these tests point ``KUBECONFIG`` at a dummy one; nothing talks to a cluster.

The ``cluster`` tests start a real course server pod, and run only when ``KUBECONFIG`` names a
real cluster and ``CAMPUSHUB_TEST_CLUSTER=1`` says it may be used.
"""

from __future__ import annotations

import asyncio
import copy
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jupyterhub import orm
from jupyterhub.objects import Hub
from jupyterhub.user import User
from kubernetes_asyncio.config import kube_config
from kubespawner import clients as kube_clients
from tornado.web import HTTPError

from campushub.catalog import Catalog, parse_catalog
from campushub.spawner import CourseKubeSpawner
from campushub.units import parse_cpu, parse_memory

# Read before any fixture replaces it: the cluster tests need the real one.
REAL_KUBECONFIG = os.environ.get("KUBECONFIG", "")
CLUSTER_OPT_IN = os.environ.get("CAMPUSHUB_TEST_CLUSTER") == "1"

LA = ZoneInfo("America/Los_Angeles")
IN_TERM = datetime(2026, 9, 15, 12, 0, tzinfo=LA)  # no exam running
DATA8_EXAM = datetime(2026, 12, 14, 9, 0, tzinfo=LA)
GiB = 2**30
MiB = 2**20

# A kubeconfig that parses but names no reachable cluster.
DUMMY_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
  - name: no-cluster
    cluster: {server: "https://127.0.0.1:9"}
users:
  - name: nobody
    user: {token: not-a-token}
contexts:
  - name: no-cluster
    context: {cluster: no-cluster, user: nobody}
current-context: no-cluster
"""

CATALOG_YAML = """\
term: {name: 2026-27, starts: 2026-08-19, ends: 2027-05-14}
timezone: America/Los_Angeles
images:
  python: {ref: "ghcr.io/campus/python:2026.08"}
  r: {ref: "ghcr.io/campus/r:2026.08", default_url: /rstudio}
  pytorch: {ref: "ghcr.io/campus/pytorch:2026.08", language: python}
pools:
  standard:
    node: {cpu: 8, memory: 64Gi}
    node_selector: {hub.jupyter.org/pool-name: standard}
    max: 20
  gpu:
    node: {cpu: 16, memory: 120Gi}
    node_selector: {hub.jupyter.org/pool-name: gpu, cloud.google.com/gke-accelerator: nvidia-l4}
    tolerations:
      - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
    max: 4
defaults:
  personal_server: true
  image: python
  pool: standard
  cpu: {guarantee: 0.05, limit: 2}
  memory: {guarantee: 512Mi, limit: 1Gi}
courses:
  data8:
    title: "DATA 8: Foundations of Data Science"
    memory: {guarantee: 1Gi, limit: 2Gi}
    shared: {volume: data8-shared}
    env: {OMP_NUM_THREADS: 2, DATA8_SETTINGS: '{"theme": "light"}'}
    grading: nbgrader
    schedule:
      - {on: 2026-12-14, at: "08:00", for: 3h, expect: 1200, exam: true}
  stat20:
    title: "STAT 20: Introduction to Probability and Statistics"
    image: r
    home: per-course
    shared: {volume: stat20-data, path: /srv/stat20, readonly_for: [students, tas]}
  cs189:
    title: "CS 189: {Introduction} to Machine Learning"
    image: pytorch
    pool: gpu
    gpu: 1
    cpu: {guarantee: 1, limit: 4}
    memory: {guarantee: 8Gi, limit: 16Gi}
    default_url: /lab/tree/welcome.ipynb
"""

# Who is in what, as the authenticator records it in JupyterHub groups.
PEOPLE = {
    "ada": {"data8": "students", "stat20": "students"},
    "tom": {"data8": "tas"},
    "lee": {"stat20": "tas"},
    "ines": {"stat20": "instructors"},
    "gus": {"cs189": "students"},
    "nobody": {},
    "grader-data8": {},  # data8's grader account (data8 grades with nbgrader)
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return parse_catalog(CATALOG_YAML)


@pytest.fixture(scope="module")
def hub_db() -> Iterator[Any]:
    """JupyterHub's real ORM in memory, holding PEOPLE and their course groups."""
    db = orm.new_session_factory("sqlite://")()
    groups: dict[str, orm.Group] = {}
    for name, courses in PEOPLE.items():
        person = orm.User(name=name)
        db.add(person)
        for slug, suffix in courses.items():
            group_name = f"course:{slug}:{suffix}"
            if group_name not in groups:
                groups[group_name] = orm.Group(name=group_name)
                db.add(groups[group_name])
            groups[group_name].users.append(person)
    db.commit()
    yield db
    db.close()


def use_kubeconfig(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """Point KubeSpawner's next client configuration at the kubeconfig ``path``."""
    monkeypatch.setenv("KUBECONFIG", path)
    # kubernetes_asyncio reads KUBECONFIG once, when first imported (possibly by another test
    # module), and KubeSpawner loads the configuration once per process: tell both again.
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", path)
    kube_clients.load_config.cache_clear()


@pytest.fixture
def dummy_kubeconfig(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    path = tmp_path_factory.getbasetemp() / "kubeconfig_dummy.yaml"
    if not path.exists():
        path.write_text(DUMMY_KUBECONFIG)
    use_kubeconfig(monkeypatch, str(path))
    return path


SpawnerFactory = Callable[..., CourseKubeSpawner]


@pytest.fixture
def make_spawner(dummy_kubeconfig: Path, hub_db: Any, catalog: Catalog) -> SpawnerFactory:
    """``make_spawner(person, server="", **traits)``: their spawner, as JupyterHub makes it.

    Call it inside a test's event loop: KubeSpawner creates its API client on construction.
    """

    def make(person: str, server: str = "", **traits: Any) -> CourseKubeSpawner:
        orm_user = orm.User.find(hub_db, person)
        orm_spawner = orm_user.orm_spawners.get(server)
        if orm_spawner is None:
            orm_spawner = orm.Spawner(name=server, user=orm_user)
            hub_db.add(orm_spawner)
            hub_db.commit()
        user = User(orm_user, settings={"db": hub_db})
        traits.setdefault("catalog", catalog)
        return CourseKubeSpawner(
            user=user, orm_spawner=orm_spawner, hub=Hub(), _mock=True, **traits
        )

    return make


async def pod_of(spawner: CourseKubeSpawner, now: datetime = IN_TERM) -> dict[str, Any]:
    """The pod KubeSpawner would create for the spawner's plan at ``now``."""
    spawner.apply_plan(spawner.server_plan(now))
    return (await spawner.get_pod_manifest()).to_dict()


def notebook(pod: dict[str, Any]) -> dict[str, Any]:
    (container,) = pod["spec"]["containers"]
    return container


def env_of(pod: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in notebook(pod)["env"]}


def claims_of(pod: dict[str, Any]) -> dict[str, str]:
    """Each pod volume's name and the claim it is backed by."""
    return {
        volume["name"]: volume["persistent_volume_claim"]["claimName"]
        for volume in pod["spec"]["volumes"]
    }


def mounts_of(pod: dict[str, Any]) -> dict[str, tuple[str, bool, str | None]]:
    """Each mount's volume name: (path, read-only, subPath)."""
    return {
        mount["name"]: (mount["mount_path"], mount["read_only"], mount["sub_path"])
        for mount in notebook(pod)["volume_mounts"]
    }


def campus_labels(pod: dict[str, Any]) -> dict[str, str]:
    return {
        key: value
        for key, value in pod["metadata"]["labels"].items()
        if key.startswith("campushub.io/")
    }


# -- a student's course server with a shared home -----------------------------------------


async def test_student_course_pod_has_the_courses_image_resources_and_pool(make_spawner):
    pod = await pod_of(make_spawner("ada", "data8"))
    container = notebook(pod)
    assert pod["metadata"]["name"] == "jupyter-ada--data8"
    assert container["image"] == "ghcr.io/campus/python:2026.08"
    assert container["resources"]["requests"] == {"cpu": 0.05, "memory": GiB}
    assert cpu_memory(container["resources"]["limits"]) == {"cpu": 2, "memory": 2 * GiB}
    assert pod["spec"]["node_selector"] == {"hub.jupyter.org/pool-name": "standard"}
    assert not pod["spec"]["tolerations"]


async def test_student_course_pod_mounts_the_shared_home_and_read_only_course_data(
    make_spawner,
):
    pod = await pod_of(make_spawner("ada", "data8"))
    assert claims_of(pod) == {"home": "home-nfs", "course-data": "data8-shared"}
    assert mounts_of(pod) == {
        # ada's folder of data8 (outside her own home, which she could fill with links):
        # whoever opens this server sees data8's work only.
        "home": ("/home/jovyan", False, "courses/data8/ada"),
        "course-data": ("/home/jovyan/shared", True, None),
    }


async def test_shared_home_claim_is_configurable(make_spawner):
    pod = await pod_of(make_spawner("ada", "data8", home_volume_claim="homes-filestore"))
    assert claims_of(pod)["home"] == "homes-filestore"


async def test_course_pod_environment_names_course_term_language_role(make_spawner):
    env = env_of(await pod_of(make_spawner("ada", "data8")))
    assert env["CAMPUSHUB_COURSE"] == "data8"
    assert env["CAMPUSHUB_TERM"] == "2026-27"
    assert env["CAMPUSHUB_LANGUAGE"] == "python"
    assert env["CAMPUSHUB_ROLE"] == "student"
    assert env["OMP_NUM_THREADS"] == "2"
    # Catalog text is literal: KubeSpawner's {placeholder} expansion leaves it alone.
    assert env["DATA8_SETTINGS"] == '{"theme": "light"}'
    assert env["JUPYTERHUB_DEFAULT_URL"] == "/lab"
    assert env["JUPYTER_IMAGE"] == "ghcr.io/campus/python:2026.08"
    assert env["MEM_LIMIT"] == str(2 * GiB)


async def test_course_pod_labels_and_annotations_name_course_term_role_pool(make_spawner):
    pod = await pod_of(make_spawner("ada", "data8"))
    assert campus_labels(pod) == {
        "campushub.io/course": "data8",
        "campushub.io/term": "2026-27",
        "campushub.io/role": "student",
        "campushub.io/pool": "standard",
        "campushub.io/exam": "false",
    }
    assert pod["metadata"]["labels"]["hub.jupyter.org/servername"] == "data8"
    annotations = pod["metadata"]["annotations"]
    assert annotations["campushub.io/title"] == "DATA 8: Foundations of Data Science"
    assert annotations["hub.jupyter.org/servername"] == "data8"


async def test_ta_gets_the_course_data_writable(make_spawner):
    pod = await pod_of(make_spawner("tom", "data8"))
    assert mounts_of(pod)["course-data"] == ("/home/jovyan/shared", False, None)
    assert mounts_of(pod)["home"] == ("/home/jovyan", False, "courses/data8/tom")
    assert campus_labels(pod)["campushub.io/role"] == "ta"
    assert env_of(pod)["CAMPUSHUB_ROLE"] == "ta"


# -- a course with a home per person and course -------------------------------------------


async def test_per_course_home_is_a_claim_per_person_and_course(make_spawner):
    spawner = make_spawner("ada", "stat20")
    pod = await pod_of(spawner)
    assert claims_of(pod) == {"home": "home-ada--stat20", "course-data": "stat20-data"}
    assert mounts_of(pod)["home"] == ("/home/jovyan", False, None)  # the whole claim
    # KubeSpawner creates that claim before the pod (real manifest code, no cluster).
    assert spawner.storage_pvc_ensure
    assert spawner.get_pvc_manifest().metadata.name == "home-ada--stat20"

    other = await pod_of(make_spawner("lee", "stat20"))
    assert claims_of(other)["home"] == "home-lee--stat20"


async def test_per_course_home_course_uses_its_image_and_default_url(make_spawner):
    pod = await pod_of(make_spawner("ada", "stat20"))
    assert notebook(pod)["image"] == "ghcr.io/campus/r:2026.08"
    env = env_of(pod)
    assert env["JUPYTERHUB_DEFAULT_URL"] == "/rstudio"
    assert env["CAMPUSHUB_LANGUAGE"] == "r"
    # stat20 inherits the defaults' resources
    assert notebook(pod)["resources"]["requests"] == {"cpu": 0.05, "memory": 512 * MiB}
    assert cpu_memory(notebook(pod)["resources"]["limits"]) == {"cpu": 2, "memory": GiB}


@pytest.mark.parametrize(
    ("person", "read_only"),
    [("ada", True), ("lee", True), ("ines", False)],  # readonly_for: [students, tas]
)
async def test_course_data_read_only_for_the_roles_the_catalog_names(
    make_spawner, person, read_only
):
    pod = await pod_of(make_spawner(person, "stat20"))
    assert mounts_of(pod)["course-data"] == ("/srv/stat20", read_only, None)


# -- a GPU course ---------------------------------------------------------------------------


async def test_gpu_course_pod_asks_for_a_gpu_on_the_gpu_pool(make_spawner):
    pod = await pod_of(make_spawner("gus", "cs189"))
    container = notebook(pod)
    assert container["image"] == "ghcr.io/campus/pytorch:2026.08"
    assert container["resources"]["limits"] == {
        "cpu": 4,
        "memory": 16 * GiB,
        "nvidia.com/gpu": "1",
        "ephemeral-storage": str(10 * GiB),  # the catalog's default disk
    }
    assert container["resources"]["requests"] == {
        "cpu": 1,
        "memory": 8 * GiB,
        "nvidia.com/gpu": "1",
    }
    assert pod["spec"]["node_selector"] == {
        "hub.jupyter.org/pool-name": "gpu",
        "cloud.google.com/gke-accelerator": "nvidia-l4",
    }
    tolerations = [
        {key: value for key, value in toleration.items() if value is not None}
        for toleration in pod["spec"]["tolerations"]
    ]
    assert tolerations == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert campus_labels(pod)["campushub.io/pool"] == "gpu"
    assert env_of(pod)["JUPYTERHUB_DEFAULT_URL"] == "/lab/tree/welcome.ipynb"


async def test_course_title_is_literal_in_the_annotation(make_spawner):
    # KubeSpawner expands {placeholders} in annotations; a title's braces are not one.
    pod = await pod_of(make_spawner("gus", "cs189"))
    title = pod["metadata"]["annotations"]["campushub.io/title"]
    assert title == "CS 189: {Introduction} to Machine Learning"


async def test_non_gpu_course_asks_for_no_gpu(make_spawner):
    pod = await pod_of(make_spawner("ada", "data8"))
    assert "nvidia.com/gpu" not in notebook(pod)["resources"]["limits"]


# -- exam windows: Guaranteed QoS ---------------------------------------------------------


async def test_exam_window_gives_guaranteed_qos(make_spawner):
    pod = await pod_of(make_spawner("ada", "data8"), now=DATA8_EXAM)
    resources = notebook(pod)["resources"]
    # Guaranteed QoS: every request equals its limit.
    assert (
        cpu_memory(resources["requests"])
        == cpu_memory(resources["limits"])
        == {
            "cpu": 2,
            "memory": 2 * GiB,
        }
    )
    assert campus_labels(pod)["campushub.io/exam"] == "true"


async def test_outside_the_exam_window_qos_is_burstable(make_spawner):
    # Before the pool's lead time (15m) ahead of the exam, and after it.
    for now in (datetime(2026, 12, 14, 7, 44, tzinfo=LA), datetime(2026, 12, 14, 11, 0, tzinfo=LA)):
        pod = await pod_of(make_spawner("ada", "data8"), now=now)
        resources = notebook(pod)["resources"]
        assert resources["requests"] == {"cpu": 0.05, "memory": GiB}
        assert cpu_memory(resources["limits"]) == {"cpu": 2, "memory": 2 * GiB}
        assert campus_labels(pod)["campushub.io/exam"] == "false"


async def test_gpu_course_in_no_exam_keeps_its_own_guarantee(make_spawner):
    # DATA 8's exam does not touch another course.
    pod = await pod_of(make_spawner("gus", "cs189"), now=DATA8_EXAM)
    assert notebook(pod)["resources"]["requests"]["cpu"] == 1


# -- folders on the shared storage, and exam pods that stay Guaranteed -----------------------


def cpu_memory(amounts: dict[str, Any]) -> dict[str, Any]:
    """The CPU and memory of a resources block (what QoS and the plan's guarantees are)."""
    return {key: value for key, value in amounts.items() if key in ("cpu", "memory")}


async def test_a_server_runs_hardened_with_the_catalogs_disk_limit(make_spawner):
    pod = await pod_of(make_spawner("ada", "data8"))
    container = notebook(pod)
    context = container["security_context"]
    assert context["runAsNonRoot"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["spec"]["security_context"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["resources"]["limits"]["ephemeral-storage"] == str(10 * GiB)
    # Only the folders step is root, with the chown capabilities alone.
    roots = [
        c["name"]
        for c in pod["spec"]["init_containers"]
        if (c["security_context"] or {}).get("runAsUser") == 0
    ]
    assert roots == ["campushub-folders"]


async def test_the_configuration_can_relax_the_hardening_key_by_key(make_spawner):
    spawner = make_spawner(
        "ada", "data8", container_security_context={"capabilities": {"add": ["SYS_PTRACE"]}}
    )
    context = notebook(await pod_of(spawner))["security_context"]
    assert context["capabilities"] == {"add": ["SYS_PTRACE"]}
    assert context["runAsNonRoot"] is True


def init_containers_of(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {container["name"]: container for container in pod["spec"]["init_containers"] or []}


def qos_class(pod: dict[str, Any]) -> str:
    """The pod's QoS class by Kubernetes' rules (every container, init containers included):
    Guaranteed if each has CPU and memory limits and requests equal to them (a request left
    out defaults to the limit); BestEffort if none asks for anything; else Burstable."""
    containers = [*pod["spec"]["containers"], *(pod["spec"]["init_containers"] or [])]
    parse = {"cpu": parse_cpu, "memory": parse_memory}
    guaranteed, anything = True, False
    for container in containers:
        resources = container.get("resources") or {}
        limits = resources.get("limits") or {}
        requests = resources.get("requests") or {}
        anything = anything or bool(limits or requests)
        for name in ("cpu", "memory"):
            if name not in limits:
                guaranteed = False
                continue
            request = requests.get(name, limits[name])
            if parse[name](request) != parse[name](limits[name]):
                guaranteed = False
    if guaranteed:
        return "Guaranteed"
    return "Burstable" if anything else "BestEffort"


def chart_block_cloud_metadata(resources: dict[str, Any]) -> Any:
    """zero-to-jupyterhub 4.3.3's own init container (its jupyterhub_config.py, built when
    singleuser.cloudMetadata.blockWithIptables is true), as a Kubernetes client model."""
    from kubernetes_asyncio import client

    return client.V1Container(
        name="block-cloud-metadata",
        image="quay.io/jupyterhub/k8s-network-tools:4.3.3",
        command=[
            "iptables",
            "--append",
            "OUTPUT",
            "--protocol",
            "tcp",
            "--destination",
            "169.254.169.254",
            "--destination-port",
            "80",
            "--jump",
            "DROP",
        ],
        security_context=client.V1SecurityContext(
            privileged=True, run_as_user=0, capabilities=client.V1Capabilities(add=["NET_ADMIN"])
        ),
        resources=resources,
    )


def deploy_values() -> dict[str, Any]:
    import yaml

    path = Path(__file__).resolve().parent.parent / "docs" / "deploy" / "values.yaml"
    return yaml.safe_load(path.read_text())


async def test_a_students_home_folder_is_made_theirs_before_the_server_starts(make_spawner):
    pod = await pod_of(make_spawner("ada", "data8"))
    folders = init_containers_of(pod)["campushub-folders"]
    # The course's image (pulled for the server anyway), root with only chown's capabilities.
    assert folders["image"] == "ghcr.io/campus/python:2026.08"
    # (dicts inside KubeSpawner's models stay as written: camelCase, as the API reads them)
    context = folders["security_context"]
    assert context["runAsUser"] == 0 and context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert set(context["capabilities"]["add"]) == {"CHOWN", "DAC_OVERRIDE", "FOWNER"}
    # The whole home claim is mounted; ada's folder of data8 is made (its parents as root's)
    # and given to 1000:100. The course data is read-only for students: left alone.
    assert folders["volume_mounts"] == [{"name": "home", "mountPath": "/campushub-folders/home"}]
    assert folders["command"][4:] == ["/campushub-folders/home/courses/data8/ada"]
    assert {e["name"]: e["value"] for e in folders["env"]} == {"OWNER": "1000:100"}
    # Requests equal limits, never above the server's own guarantees (0.05 CPU, 1Gi).
    resources = folders["resources"]
    assert resources["requests"] == resources["limits"] == {"cpu": "50m", "memory": str(64 * MiB)}


async def test_the_folders_script_owns_only_the_folders_it_is_given_and_refuses_links(tmp_path):
    # The script the init container runs, run here on folders of this machine (as root here,
    # as in the pod; otherwise as whoever runs the tests).
    import grp
    import pwd
    import subprocess

    from campushub.pods import FOLDERS_SCRIPT

    owner = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.getuid())
    group = grp.getgrgid(owner.pw_gid).gr_name

    def run(*targets: Path) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["/bin/sh", "-c", FOLDERS_SCRIPT, "campushub-folders", *map(str, targets)],
            env={"OWNER": f"{owner.pw_name}:{group}", "PATH": os.environ["PATH"]},
            check=False,
            capture_output=True,
        )

    leaf = tmp_path / "courses" / "data8" / "ada"
    assert run(leaf).returncode == 0
    assert leaf.is_dir() and leaf.stat().st_uid == owner.pw_uid
    # Its parents stay whoever made them (root in the pod): a person cannot swap their folder.
    assert (tmp_path / "courses" / "data8").stat().st_uid == os.geteuid()
    # A folder someone replaced with a link to another person's is refused, and not chowned.
    other = tmp_path / "bob"
    other.mkdir()
    link = tmp_path / "courses" / "data8" / "eve"
    link.symlink_to(other)
    refused = run(link)
    assert refused.returncode != 0 and b"symbolic link" in refused.stderr
    assert other.stat().st_uid == os.geteuid()
    # A chown that fails stops the pod from starting.
    failed = subprocess.run(
        ["/bin/sh", "-c", FOLDERS_SCRIPT, "campushub-folders", str(leaf)],
        env={"OWNER": "no-such-user-anywhere:nogroup", "PATH": os.environ["PATH"]},
        check=False,
        capture_output=True,
    )
    assert failed.returncode != 0


async def test_staff_get_the_course_data_folder_and_the_owner_follows_the_chart(make_spawner):
    # zero-to-jupyterhub sets singleuser.uid and fsGid as KubeSpawner's uid and fs_gid.
    pod = await pod_of(make_spawner("tom", "data8", uid=1234, fs_gid=555))
    folders = init_containers_of(pod)["campushub-folders"]
    assert folders["command"][4:] == [
        "/campushub-folders/home/courses/data8/tom",
        "/campushub-folders/course-data",
    ]
    assert {e["name"]: e["value"] for e in folders["env"]} == {"OWNER": "1234:555"}


async def test_a_per_course_home_claim_is_owned_at_its_root(make_spawner):
    pod = await pod_of(make_spawner("ada", "stat20"))
    folders = init_containers_of(pod)["campushub-folders"]
    assert folders["command"][-1:] == ["/campushub-folders/home"]
    assert folders["image"] == "ghcr.io/campus/r:2026.08"


async def test_folders_step_can_be_turned_off(make_spawner):
    pod = await pod_of(make_spawner("ada", "data8", prepare_folders=False))
    assert "campushub-folders" not in init_containers_of(pod)


@pytest.mark.parametrize("values", ["chart default", "reference values"])
async def test_an_exam_pod_is_guaranteed_with_the_charts_init_container(make_spawner, values):
    resources = (
        {}
        if values == "chart default"
        else deploy_values()["singleuser"]["networkTools"]["resources"]
    )
    spawner = make_spawner("ada", "data8", init_containers=[chart_block_cloud_metadata(resources)])
    exam = await pod_of(spawner, now=DATA8_EXAM)
    assert qos_class(exam) == "Guaranteed"
    blocker = init_containers_of(exam)["block-cloud-metadata"]
    # The chart's container is kept as it is otherwise (privileged, its command).
    assert blocker["security_context"]["privileged"] is True
    assert blocker["command"][0] == "iptables"
    if values == "reference values":  # already requests = limits: unchanged
        assert blocker["resources"] == resources
    # Out of the exam window the same server is Burstable, and the chart's container untouched.
    normal = await pod_of(spawner, now=IN_TERM)
    assert qos_class(normal) == "Burstable"
    assert init_containers_of(normal)["block-cloud-metadata"]["resources"] == resources


async def test_an_exam_pod_gives_requests_equal_to_limits_to_any_init_container(make_spawner):
    configured = [
        {
            "name": "only-limits",
            "image": "busybox",
            "resources": {"limits": {"cpu": "200m", "memory": "128Mi"}},
        },
        {"name": "only-requests", "image": "busybox", "resources": {"requests": {"cpu": "20m"}}},
    ]
    pod = await pod_of(make_spawner("ada", "data8", init_containers=configured), now=DATA8_EXAM)
    assert qos_class(pod) == "Guaranteed"
    found = init_containers_of(pod)
    assert found["only-limits"]["resources"]["requests"] == {"cpu": "200m", "memory": "128Mi"}
    assert found["only-requests"]["resources"]["limits"]["cpu"] == "20m"


# -- what survives of the chart's settings: each merged with the course's plan ---------------

CHART_SETTINGS: dict[str, Any] = {
    # zero-to-jupyterhub's user-node taint and its own node selector
    "tolerations": [
        {
            "key": "hub.jupyter.org/dedicated",
            "operator": "Equal",
            "value": "user",
            "effect": "NoSchedule",
        }
    ],
    "node_selector": {"topology.kubernetes.io/zone": "us-west1-a"},
    # singleuser.storage.extraVolumes / extraVolumeMounts, and the chart's own home volume
    "volumes": [
        {"name": "extra-certs", "configMap": {"name": "campus-ca"}},
        {"name": "home", "persistentVolumeClaim": {"claimName": "claim-{username}"}},
    ],
    "volume_mounts": [
        {"name": "extra-certs", "mountPath": "/etc/campus-ca", "readOnly": True},
        {"name": "home", "mountPath": "/home/jovyan"},
    ],
    "environment": {"CAMPUS_PROXY": "http://proxy.campus:3128", "CAMPUSHUB_COURSE": "chart"},
    "extra_labels": {"campus.edu/billing": "instruction", "campushub.io/course": "chart"},
    "extra_annotations": {"campus.edu/owner": "research-it"},
    "extra_resource_limits": {"ephemeral-storage": "5Gi"},
    "extra_resource_guarantees": {"ephemeral-storage": "1Gi"},
}


async def test_chart_settings_merge_with_the_courses_plan(make_spawner):
    pod = await pod_of(make_spawner("gus", "cs189", **copy.deepcopy(CHART_SETTINGS)))
    spec, container = pod["spec"], notebook(pod)
    # node selector: both; the pool's keys win where both name one
    assert spec["node_selector"] == {
        "topology.kubernetes.io/zone": "us-west1-a",
        "hub.jupyter.org/pool-name": "gpu",
        "cloud.google.com/gke-accelerator": "nvidia-l4",
    }
    # tolerations: the chart's, then the pool's
    assert [t["key"] for t in spec["tolerations"]] == [
        "hub.jupyter.org/dedicated",
        "nvidia.com/gpu",
    ]
    # volumes: the chart's extra volume kept; its home at /home/jovyan gives way to the catalog's
    assert claims_of_any(pod) == {"extra-certs": None, "home": "home-nfs"}
    assert mounts_of(pod)["extra-certs"] == ("/etc/campus-ca", True, None)
    assert mounts_of(pod)["home"] == ("/home/jovyan", False, "courses/cs189/gus")
    # environment, labels, annotations: both; campushub's win where both name a key
    env = env_of(pod)
    assert env["CAMPUS_PROXY"] == "http://proxy.campus:3128" and env["CAMPUSHUB_COURSE"] == "cs189"
    labels = pod["metadata"]["labels"]
    assert (
        labels["campus.edu/billing"] == "instruction" and labels["campushub.io/course"] == "cs189"
    )
    assert pod["metadata"]["annotations"]["campus.edu/owner"] == "research-it"
    # extra resources: the chart's, the course's GPU, and the catalog's disk over the chart's
    assert container["resources"]["limits"]["ephemeral-storage"] == str(10 * GiB)
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["resources"]["requests"]["ephemeral-storage"] == "1Gi"


async def test_a_reused_spawner_does_not_carry_one_plan_into_the_next(make_spawner):
    spawner = make_spawner("ada", "", **copy.deepcopy(CHART_SETTINGS))
    spawner.user_options = {"profile": "stat20"}
    first = await pod_of(spawner)
    assert mounts_of(first)["course-data"][0] == "/srv/stat20"
    spawner.user_options = {"profile": "general"}
    second = await pod_of(spawner)
    assert "course-data" not in mounts_of(second)
    assert [c for c in init_containers_of(second)] == ["campushub-folders"]
    assert spec_tolerations(second) == ["hub.jupyter.org/dedicated"]


def claims_of_any(pod: dict[str, Any]) -> dict[str, str | None]:
    """Each pod volume's name and its claim (None for other kinds of volume)."""
    return {
        volume["name"]: (volume.get("persistent_volume_claim") or {}).get("claimName")
        for volume in pod["spec"]["volumes"]
    }


def spec_tolerations(pod: dict[str, Any]) -> list[str]:
    return [t["key"] for t in pod["spec"]["tolerations"] or []]


# -- the default server ---------------------------------------------------------------------


async def test_default_server_profile_list_is_the_persons_courses_and_general(make_spawner):
    spawner = make_spawner("ada")
    profiles = spawner.profile_list(spawner)
    assert [profile["slug"] for profile in profiles] == ["data8", "stat20", "general"]
    assert [profile["default"] for profile in profiles] == [True, False, False]
    assert profiles[0]["display_name"] == "DATA 8: Foundations of Data Science"
    assert profiles[0]["description"] == "python environment, up to 2Gi of memory"

    gus = make_spawner("gus")
    assert [profile["slug"] for profile in gus.profile_list(gus)] == ["cs189", "general"]
    nobody = make_spawner("nobody")
    assert [profile["slug"] for profile in nobody.profile_list(nobody)] == ["general"]


async def test_default_server_form_offers_only_the_persons_courses(make_spawner):
    spawner = make_spawner("ada")
    form = await spawner.get_options_form()  # KubeSpawner's own profile form
    assert 'value="data8"' in form and 'value="stat20"' in form
    assert 'value="general"' in form
    assert 'value="cs189"' not in form


async def test_course_server_has_no_profiles_and_shows_no_form(make_spawner):
    spawner = make_spawner("ada", "data8")
    assert spawner.profile_list(spawner) == []
    assert await spawner.get_options_form() == ""  # JupyterHub starts it straight away


async def test_default_server_choice_of_a_course_gets_that_courses_pod(make_spawner):
    spawner = make_spawner("ada")
    spawner.user_options = {"profile": "stat20"}
    await spawner.load_user_options()  # KubeSpawner's own check of the choice
    pod = await pod_of(spawner)
    assert pod["metadata"]["name"] == "jupyter-ada"
    assert notebook(pod)["image"] == "ghcr.io/campus/r:2026.08"
    assert campus_labels(pod)["campushub.io/course"] == "stat20"
    assert env_of(pod)["JUPYTERHUB_DEFAULT_URL"] == "/rstudio"


async def test_default_server_general_environment_pod(make_spawner):
    pod = await pod_of(make_spawner("ada"))
    assert notebook(pod)["image"] == "ghcr.io/campus/python:2026.08"
    assert cpu_memory(notebook(pod)["resources"]["limits"]) == {"cpu": 2, "memory": GiB}
    assert campus_labels(pod) == {
        "campushub.io/course": "general",
        "campushub.io/term": "2026-27",
        "campushub.io/role": "none",
        "campushub.io/pool": "standard",
        "campushub.io/exam": "false",
    }
    assert claims_of(pod) == {"home": "home-nfs"}
    assert mounts_of(pod) == {"home": ("/home/jovyan", False, "ada")}


async def test_default_server_choice_not_offered_is_refused_with_403(make_spawner):
    spawner = make_spawner("ada")
    spawner.user_options = {"profile": "cs189"}
    with pytest.raises(HTTPError) as refusal:
        spawner.server_plan(IN_TERM)
    assert refusal.value.status_code == 403
    assert "'cs189' is not one of your choices" in refusal.value.jupyterhub_message


# -- refusals -------------------------------------------------------------------------------


async def test_course_server_of_a_non_member_is_refused_with_403(make_spawner):
    spawner = make_spawner("tom", "stat20")
    with pytest.raises(HTTPError) as refusal:
        spawner.server_plan(IN_TERM)
    assert refusal.value.status_code == 403
    assert refusal.value.jupyterhub_message.startswith(
        "You are not in STAT 20: Introduction to Probability and Statistics (stat20)"
    )


async def test_server_that_is_not_a_course_is_refused_with_403(make_spawner):
    spawner = make_spawner("ada", "myproject")
    with pytest.raises(HTTPError) as refusal:
        spawner.server_plan(IN_TERM)
    assert refusal.value.status_code == 403
    assert "'myproject' is not a course on this hub" in refusal.value.jupyterhub_message


# -- a real cluster -------------------------------------------------------------------------

CLUSTER_IMAGE = os.environ.get("CAMPUSHUB_TEST_IMAGE", "quay.io/jupyter/base-notebook:latest")
CLUSTER_NAMESPACE = os.environ.get("CAMPUSHUB_TEST_NAMESPACE", "default")
CLUSTER_CATALOG_YAML = f"""\
term: {{name: 2026-27, starts: 2026-08-19, ends: 2027-05-14}}
timezone: America/Los_Angeles
images:
  python: {{ref: "{CLUSTER_IMAGE}"}}
pools:
  any: {{node: {{cpu: 2, memory: 4Gi}}, max: 1}}
defaults:
  image: python
  pool: any
  cpu: {{guarantee: 0.05, limit: 1}}
  memory: {{guarantee: 256Mi, limit: 1Gi}}
courses:
  data8:
    title: "DATA 8: Foundations of Data Science"
    home: per-course
"""


def _cluster_skip_reason() -> str:
    if not REAL_KUBECONFIG:
        return "no cluster: set KUBECONFIG to a real cluster's kubeconfig"
    if not CLUSTER_OPT_IN:
        return "KUBECONFIG is set, but CAMPUSHUB_TEST_CLUSTER=1 is not: the cluster is not used"
    return ""


@pytest.mark.cluster
@pytest.mark.skipif(bool(_cluster_skip_reason()), reason=_cluster_skip_reason())
@pytest.mark.asyncio(loop_scope="function")  # a fresh API client, configured for the cluster
async def test_course_server_starts_on_a_real_cluster(monkeypatch):
    use_kubeconfig(monkeypatch, REAL_KUBECONFIG)  # not the dummy of the tests above
    db = orm.new_session_factory("sqlite://")()
    name = f"campushub-test-{secrets.token_hex(3)}"
    person = orm.User(name=name)
    group = orm.Group(name="course:data8:students")
    group.users.append(person)
    orm_spawner = orm.Spawner(name="data8", user=person)
    db.add_all([person, group, orm_spawner])
    db.commit()
    spawner = CourseKubeSpawner(
        user=User(person, settings={"db": db}),
        orm_spawner=orm_spawner,
        hub=Hub(),
        catalog=parse_catalog(CLUSTER_CATALOG_YAML),
        namespace=CLUSTER_NAMESPACE,
        storage_capacity="1Gi",  # the per-course home KubeSpawner creates
        start_timeout=600,  # the first pull of the image can be slow
        api_token=secrets.token_hex(16),
    )
    try:
        await asyncio.wait_for(spawner.start(), timeout=660)
        pod = await spawner.api.read_namespaced_pod(spawner.pod_name, CLUSTER_NAMESPACE)
        (container,) = pod.spec.containers
        assert container.image == CLUSTER_IMAGE
        assert parse_cpu(container.resources.limits["cpu"]) == 1
        assert parse_memory(container.resources.limits["memory"]) == GiB
        assert parse_memory(container.resources.requests["memory"]) == 256 * MiB
        assert pod.metadata.labels["campushub.io/course"] == "data8"
        assert pod.metadata.labels["campushub.io/role"] == "student"
        assert pod.status.phase == "Running"
    except BaseException:
        await remove_server(spawner, strict=False)  # keep the failure above as the report
        raise
    else:
        await remove_server(spawner, strict=True)
    finally:
        await CourseKubeSpawner._stop_all_reflectors()
        db.close()


async def remove_server(spawner: CourseKubeSpawner, strict: bool) -> None:
    """Delete the test's pod and its per-course home claim; if not ``strict``, only try."""
    try:
        await spawner.stop(now=True)
        await spawner.delete_forever()
    except Exception:
        if strict:
            raise


# -- a course that grades with nbgrader ------------------------------------------------------


async def test_a_grading_courses_servers_get_nbgrader_and_the_grading_service(make_spawner):
    from campushub.kube import IMAGE_GRADING_CONFIG

    url = "http://hub:10103/services/grading/"
    student = make_spawner("ada", "data8", grading_url=url)
    env = env_of(await pod_of(student))
    assert env["CAMPUSHUB_GRADING"] == "student"
    assert env["CAMPUSHUB_GRADING_URL"] == url
    assert env["CAMPUSHUB_SERVER_ROOT"] == "/home/jovyan"
    assert env["JUPYTER_CONFIG_PATH"] == f"{IMAGE_GRADING_CONFIG}/student"
    assert "access:services!service=grading" in student.server_token_scopes(student)
    # The grader account's one server: the course's image, opening the formgrader.
    grader = make_spawner("grader-data8", "", grading_url=url)
    pod = await pod_of(grader)
    env = env_of(pod)
    assert (env["CAMPUSHUB_GRADING"], env["CAMPUSHUB_GRADER"]) == ("grader", "1")
    assert env["JUPYTER_CONFIG_PATH"] == f"{IMAGE_GRADING_CONFIG}/grader"
    assert env["JUPYTERHUB_DEFAULT_URL"] == "/formgrader"
    assert env["CAMPUSHUB_COURSE"] == "data8"
    assert notebook(pod)["image"] == "ghcr.io/campus/python:2026.08"
    assert mounts_of(pod)["course-data"][1] is False  # the course data, writable
    assert "access:services!service=grading" in grader.server_token_scopes(grader)
    # A course that does not grade: none of it.
    other = make_spawner("ada", "stat20", grading_url=url)
    env = env_of(await pod_of(other))
    assert not {"CAMPUSHUB_GRADING", "CAMPUSHUB_GRADING_URL", "JUPYTER_CONFIG_PATH"} & set(env)
    assert "access:services!service=grading" not in other.server_token_scopes(other)


async def test_a_grader_account_has_no_other_server(make_spawner):
    with pytest.raises(HTTPError) as refused:
        await pod_of(make_spawner("grader-data8", "data8"))
    assert refused.value.status_code == 403 and "grader account" in str(refused.value)
