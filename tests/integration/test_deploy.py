"""The Kubernetes manifests in deploy/kubernetes: each resource valid against the API schema
(kubernetes-validate, strict: no unknown field), and consistent with the server they run
(every STREAMER_* name a setting, probes on /healthz, a grace period that covers the
shutdown). They are not applied here: no cluster runs on these machines."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from streamer.api.serving import SHUTDOWN_GRACE_S
from streamer.config import Settings

MANIFESTS = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.37.0"
PRE_STOP_S = 5


def _resources() -> list[dict[str, Any]]:
    found = [
        document
        for path in sorted(MANIFESTS.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]
    assert found, f"no manifests in {MANIFESTS}"
    return found


def _kind(kind: str) -> dict[str, Any]:
    (resource,) = [r for r in _resources() if r["kind"] == kind]
    return resource


def test_every_manifest_is_valid_against_the_kubernetes_schema() -> None:
    kinds = set()
    for resource in _resources():
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
        kinds.add(resource["kind"])
    assert kinds >= {"Deployment", "Service", "ConfigMap", "Secret", "PersistentVolumeClaim"}


def test_the_settings_they_set_are_the_servers() -> None:
    known = {"STREAMER_" + field.name.upper() for field in fields(Settings)}
    named = {
        *_kind("ConfigMap")["data"],
        *_kind("Secret")["stringData"],
    }
    assert named <= known, named - known
    assert {"STREAMER_DATABASE_URL", "STREAMER_TOKEN_SECRET", "STREAMER_UPLOADS"} <= named


def test_the_pods_are_probed_on_healthz_and_given_time_to_end_their_streams() -> None:
    pod = _kind("Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz"
    assert container["lifecycle"]["preStop"]["sleep"]["seconds"] == PRE_STOP_S
    # the pause, the streams' finals, then requests in flight (serving.py)
    assert pod["terminationGracePeriodSeconds"] > PRE_STOP_S + 2 * SHUTDOWN_GRACE_S
    uploads = _kind("ConfigMap")["data"]["STREAMER_UPLOADS"]
    assert uploads in {mount["mountPath"] for mount in container["volumeMounts"]}
    assert _kind("PersistentVolumeClaim")["spec"]["accessModes"] == ["ReadWriteMany"]
