"""deploy/ checked offline: the Kubernetes manifests against the Kubernetes schemas
(kubernetes-validate), the nginx and HAProxy configurations by nginx -t and
haproxy -c (Debian's packages), with this machine's addresses put in for the
servers' names. What the routing does is tests/test_balancer.py's business."""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.support.server import REPO

DEPLOY = REPO / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
KUBERNETES_VERSION = "1.30"


def manifests() -> dict[str, dict[str, Any]]:
    listed = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"]
    return {name: yaml.safe_load((KUBERNETES / name).read_text()) for name in listed}


def test_every_manifest_is_listed_and_valid() -> None:
    on_disk = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    found = manifests()
    assert set(found) == on_disk
    for manifest in found.values():
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    kinds = {manifest["kind"] for manifest in found.values()}
    assert kinds == {
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "Ingress",
        "PodDisruptionBudget",
    }


def test_a_broken_manifest_is_caught() -> None:
    deployment = copy.deepcopy(manifests()["deployment.yaml"])
    deployment["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    deployment = copy.deepcopy(manifests()["deployment.yaml"])
    deployment["spec"]["template"]["spec"]["containers"][0]["livnessProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):  # strict: unknown fields
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_deployment_probes_health_and_runs_unprivileged() -> None:
    found = manifests()
    pod = found["deployment.yaml"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/ct-health/"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ct-health/ready/"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    secret = found["secret.yaml"]["stringData"]
    for name in ("CT_DASHBOARD_USER", "CT_DASHBOARD_PASSWORD", "CT_SECRET_KEY", "CT_LICENSEE"):
        assert name in secret
    assert {"CT_DATABASE_URL", "CT_REDIS_URL"} <= set(secret)  # external services
    hashed_on = found["ingress.yaml"]["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/upstream-hash-by"
    ]
    assert "$http_ctstickiness" in hashed_on and "$cookie_ctstickiness" in hashed_on
    assert found["poddisruptionbudget.yaml"]["spec"]["maxUnavailable"] == 1


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    key, cert = tmp_path / "ct.key", tmp_path / "ct.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec"),
            *("-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
            *("-keyout", str(key), "-out", str(cert), "-days", "2"),
            *("-subj", "/CN=ct.example.com"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def nginx_check(conf: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    whole = f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
    whole += f"http {{\naccess_log off;\n{conf}\n}}\n"
    (tmp_path / "nginx.conf").write_text(whole)
    command = ["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    return subprocess.run(command, capture_output=True, text=True)


def local(text: str) -> str:
    """The servers' names (ctserver-1 ...) as this machine's address."""
    return re.sub(r"ctserver-\d:1080", "127.0.0.1:1080", text)


def test_the_nginx_site_is_valid(certificate: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = certificate
    conf = local((DEPLOY / "nginx" / "ctserver.conf").read_text())
    conf = conf.replace("/etc/nginx/ctserver/", f"{DEPLOY / 'nginx'}/")
    conf = conf.replace("/etc/nginx/tls/ct.pem", str(cert)).replace(
        "/etc/nginx/tls/ct.key", str(key)
    )
    conf = conf.replace("listen 80;", "listen 127.0.0.1:9;").replace(
        "listen 443", "listen 127.0.0.1:10"
    )
    checked = nginx_check(conf, tmp_path)
    assert checked.returncode == 0, checked.stderr
    broken = nginx_check(conf.replace("hash $ct_route consistent;", "hash;"), tmp_path)
    assert broken.returncode != 0


def test_the_haproxy_configuration_is_valid(certificate: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = certificate
    both = tmp_path / "both.pem"
    both.write_text(cert.read_text() + key.read_text())
    cfg = local((DEPLOY / "haproxy" / "haproxy.cfg").read_text())
    cfg = cfg.replace("/etc/haproxy/tls/ct.example.com.pem", str(both))
    cfg = cfg.replace("bind :443", "bind 127.0.0.1:10").replace("bind :80", "bind 127.0.0.1:9")
    path = tmp_path / "haproxy.cfg"
    path.write_text(cfg)
    checked = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    path.write_text(cfg.replace("balance hash", "balance hashh"))
    broken = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True)
    assert broken.returncode != 0


def test_the_compose_file_runs_three_servers_behind_nginx() -> None:
    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    services = compose["services"]
    servers = [name for name in services if name.startswith("ctserver-")]
    assert len(servers) == 3
    for name in servers:
        env = services[name]["environment"]
        assert env["CT_REDIS_URL"].startswith("redis://redis:")
        assert env["CT_DATABASE_URL"].startswith("postgresql://")
    assert {"nginx", "postgres", "redis"} <= set(services)
    mounts = " ".join(services["nginx"]["volumes"])
    assert "../nginx/ctserver.conf" in mounts and "../nginx:/etc/nginx/ctserver" in mounts
