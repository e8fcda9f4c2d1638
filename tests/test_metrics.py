"""mig-metrics against a real Prometheus Pushgateway on 127.0.0.1 (Debian package
``prometheus-pushgateway``), and the node-exporter textfile."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fleet_support import make_fleet
from mig.testing import Project, server_unavailable

prometheus_client = pytest.importorskip("prometheus_client")
pytest.importorskip("mig_metrics")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

BINARY = "prometheus-pushgateway"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which(BINARY) or shutil.which("pushgateway")
    if binary is None:
        server_unavailable(f"{BINARY} is not installed (apt-get install -y {BINARY})")
    url = f"http://127.0.0.1:{_free_port()}"
    log = tmp_path_factory.mktemp("pushgateway") / "log"
    with log.open("wb") as out:
        # Debian's build persists to /var/lib/prometheus by default: keep this one in memory.
        proc = subprocess.Popen([binary, f"--web.listen-address={url[7:]}",
                                 "--persistence.file="], stdout=out, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/-/ready", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(f"the pushgateway did not start: {log.read_text()}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def scrape(url: str, instance: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample the pushgateway serves for ``instance``, by name and labels."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted((k, v) for k, v in s.labels.items()
                              if k not in ("instance", "job")))): s.value
        for family in text_string_to_metric_families(text) for s in family.samples
        if s.labels.get("instance") == instance and s.name.startswith("mig_")
    }


def one(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
        **labels: str) -> float:
    want = {(name, tuple(sorted(labels.items())))}
    found = [v for k, v in samples.items() if k in want]
    assert found, f"no sample {name}{labels} in {sorted(samples)}"
    return found[0]


def test_up_failure_fix_and_down_reach_the_pushgateway(
    mig_project: Project, pushgateway: str
) -> None:
    p = mig_project
    p.write_config(p.config_path.read_text() + (
        f'\n[mig.options.metrics]\npushgateway = "{pushgateway}"\ninstance = "app"\n'
        'job = "mig-test"\n'), backup="full")
    p.table_migration("001", "a")
    p.table_migration("002", "b")
    p.write_migration("003_bad", "CREATE TABLE a (id INTEGER);", "DROP TABLE a;")
    assert p.run("up").code == 1
    m = scrape(pushgateway, "app")
    assert one(m, "mig_run_failed", target="app") == 1
    assert one(m, "mig_pending_migrations", target="app") == 1
    assert one(m, "mig_current_version", target="app") == 2
    assert one(m, "mig_run_migrations", target="app", operation="apply", status="COMPLETED") == 2
    assert one(m, "mig_run_migrations", target="app", operation="apply", status="FAILED") == 1
    took = one(m, "mig_migration_duration_seconds", target="app", migration="001_create_a",
               operation="apply", status="COMPLETED")
    assert 0 < took < 10
    size = one(m, "mig_backup_size_bytes", target="app", migration="002_create_b",
               backup_type="full")
    assert size > 0
    assert 0 <= one(m, "mig_backup_duration_seconds", target="app", migration="002_create_b",
                    backup_type="full") < 10
    assert ("mig_last_success_timestamp_seconds", (("target", "app"),)) not in m
    assert ("mig_up_to_date_timestamp_seconds", (("target", "app"),)) not in m
    p.write_migration("003_bad", "CREATE TABLE c (id INTEGER);", "DROP TABLE c;")
    p.ok("up")
    m = scrape(pushgateway, "app")
    assert one(m, "mig_run_failed", target="app") == 0
    assert one(m, "mig_pending_migrations", target="app") == 0
    assert one(m, "mig_current_version", target="app") == 3
    success = one(m, "mig_last_success_timestamp_seconds", target="app")
    assert abs(success - time.time()) < 60
    p.ok("down", "--method", "down")
    m = scrape(pushgateway, "app")
    assert one(m, "mig_run_rollbacks", target="app") == 1
    assert one(m, "mig_pending_migrations", target="app") == 1
    # Kept from the run before (POST keeps what a push leaves out): the alert's clock.
    assert one(m, "mig_up_to_date_timestamp_seconds", target="app") <= time.time()


def test_a_fleet_pushes_one_group_per_target_and_writes_textfiles(
    tmp_path: Path, pushgateway: str
) -> None:
    make_fleet(tmp_path, 2, 3, extra=(f'[mig.options.metrics]\npushgateway = "{pushgateway}"\n'
                                      'textfile_dir = "textfiles"\n'))
    project = Project.__new__(Project)  # the fleet's folder as is: only its run helpers
    project.path = tmp_path
    project.ok("--targets", "all", "up")
    for name in ("tenants/tenant000", "tenants/tenant001"):
        m = scrape(pushgateway, name)
        assert one(m, "mig_pending_migrations", target=name) == 0
        assert one(m, "mig_current_version", target=name) == 3
    files = sorted((tmp_path / "textfiles").iterdir())
    assert [f.name for f in files] == ["mig_tenants_tenant000.prom", "mig_tenants_tenant001.prom"]
    text = files[0].read_text()
    assert 'mig_pending_migrations{target="tenants/tenant000"} 0.0' in text
    assert 'mig_up_to_date_timestamp_seconds{target="tenants/tenant000"}' in text


def test_bad_options_and_an_unreachable_gateway(mig_project: Project) -> None:
    p = mig_project
    p.table_migration("001", "a")
    base = p.config_path.read_text()
    p.write_config(base + '\n[mig.options.metrics]\npushgateway = "127.0.0.1:9"\n')
    code, _, err = p.run("up")
    assert code == 2 and "metrics.pushgateway must be an http(s):// URL" in err
    p.write_config(base + '\n[mig.options.metrics]\npush = "x"\n')
    code, _, err = p.run("status")
    assert code == 2 and "unknown key 'push' in [mig.options.metrics]" in err
    p.write_config(base + '\n[mig.options.metrics]\npushgateway = "http://127.0.0.1:9"\n'
                   'timeout = 2\n')
    code, _, err = p.run("up")
    assert code == 0 and "mig: warning: metrics: cannot push to http://127.0.0.1:9" in err
    assert p.applied() == ["001_create_a"]
