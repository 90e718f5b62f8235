"""VramArbiterMonitoring: the arbiter's ServiceMonitor, PrometheusRule and Grafana dashboard.

Written for kube-prometheus-stack: its Prometheus selects ServiceMonitors and PrometheusRules by
its release label (``labels``), its Grafana sidecar loads dashboards from ConfigMaps labelled
``grafana_dashboard: "1"``. The objects are plain ``monitoring.coreos.com/v1`` resources; the
tests validate them against the CRDs of the prometheus-operator release pinned in crds/ and
parse every PromQL expression with Prometheus's own grammar.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.network_values import PodSelector
from homelab_ai.base.validators import (
    as_dict,
    dns1123_label,
    duration_between,
    label_mapping,
    typed_fields,
    whole_number,
)
from homelab_ai.base.values import go_duration
from homelab_ai.cluster.app_network_policy import AppNetworkPolicy, AppNetworkPolicyProps
from homelab_ai.cluster.app_workload import NAME_LABEL

DASHBOARD_LABEL = "grafana_dashboard"


_WINDOW = duration_between(timedelta(seconds=1), timedelta(days=7))


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class VramArbiterMonitoringProps:
    """Which monitoring objects to make, and how kube-prometheus-stack finds them."""

    service_monitor: bool = True
    """Make a ServiceMonitor for /metrics (and open the metrics port to ``prometheus``); default True."""
    rules: bool = True
    """Make the PrometheusRule (envelope exceeded, repeated overlaps, refusals, arbiter down); default True."""
    dashboard: bool = True
    """Make the Grafana dashboard ConfigMap (label grafana_dashboard: "1"); default True."""
    labels: dict[str, str] = attrs.field(
        factory=lambda: {"release": "kube-prometheus-stack"}, converter=as_dict, validator=label_mapping
    )
    """Labels Prometheus selects ServiceMonitors and rules by; default {"release": "kube-prometheus-stack"}."""
    prometheus: PodSelector = PodSelector(labels={"app.kubernetes.io/name": "prometheus"}, namespace="monitoring")
    """The Prometheus pods let in on the metrics port; default app.kubernetes.io/name=prometheus in "monitoring"."""
    scrape_interval: timedelta = attrs.field(default=timedelta(seconds=30), validator=_WINDOW)
    """Scrape interval of the ServiceMonitor; default 30 seconds."""
    envelope_exceeded_for: timedelta = attrs.field(default=timedelta(minutes=10), validator=_WINDOW)
    """How long observed VRAM must stay above an app's active_max before the alert fires; default 10 minutes."""
    overlaps: int = attrs.field(default=3, validator=whole_number(1, 10_000))
    """Count of overlaps (jobs that bypassed the arbiter on an over-booked card) per window that alerts; default 3."""
    overlaps_window: timedelta = attrs.field(default=timedelta(hours=1), validator=_WINDOW)
    """The window those overlaps are counted in; default 1 hour."""
    dashboard_namespace: str | None = attrs.field(default=None, validator=attrs.validators.optional(dns1123_label))
    """Namespace of the dashboard ConfigMap; default None: the arbiter's (the sidecar must search it)."""

    def __attrs_post_init__(self) -> None:
        if not (self.service_monitor or self.rules or self.dashboard):
            raise HomelabConfigError(
                "VramArbiterMonitoringProps.service_monitor",
                "service_monitor, rules and dashboard are all off: nothing to make",
                "leave VramArbiterProps.monitoring at None instead",
            )


def _selector(name: str, namespace: str) -> str:
    return f'job="{name}",namespace="{namespace}"'


def rule_groups(name: str, namespace: str, props: VramArbiterMonitoringProps) -> list[dict[str, Any]]:
    """The PrometheusRule's groups: each alert says what is wrong and what to change."""
    sel = _selector(name, namespace)
    window = go_duration(props.overlaps_window)
    return [
        {
            "name": f"{name}.rules",
            "rules": [
                {
                    "alert": "VramEnvelopeExceeded",
                    "expr": f"max by (app) (vram_arbiter_app_observed_vram_bytes{{{sel}}}) > "
                    f"max by (app) (vram_arbiter_app_active_max_vram_bytes{{{sel}}})",
                    "for": go_duration(props.envelope_exceeded_for),
                    "labels": {"severity": "warning"},
                    "annotations": {
                        "summary": "{{ $labels.app }} holds more VRAM than its VramEnvelope's active_max",
                        "description": "{{ $labels.app }} has held {{ $value | humanize1024 }}B of VRAM for "
                        f"{go_duration(props.envelope_exceeded_for)}, more than its declared active_max: the "
                        "budget and the arbiter count on a wrong number. Raise VramEnvelope.active_max_gib and "
                        "check `homelab-ai budget`, or use a smaller model.",
                    },
                },
                {
                    "alert": "VramArbiterRepeatedOverlaps",
                    "expr": f"sum by (app) (increase(vram_arbiter_overlaps_total{{{sel}}}[{window}])) "
                    f">= {props.overlaps}",
                    "labels": {"severity": "warning"},
                    "annotations": {
                        "summary": "{{ $labels.app }} jobs keep bypassing the VRAM arbiter",
                        "description": f"{{{{ $value }}}} jobs of {{{{ $labels.app }}}} in the last {window} "
                        "started without passing the arbiter while the apps did not fit the card together; each "
                        "could have run the card out of memory. Point those clients (the web page on the LAN) "
                        "at the arbiter, or lower the envelopes until the apps fit together.",
                    },
                },
                {
                    "alert": "VramArbiterRefusing",
                    "expr": f"sum by (app) (increase(vram_arbiter_refusals_total{{{sel}}}[15m])) > 0",
                    "labels": {"severity": "info"},
                    "annotations": {
                        "summary": "the VRAM arbiter refused {{ $labels.app }} requests",
                        "description": "{{ $value }} requests for {{ $labels.app }} waited their whole max wait "
                        "for the card in the last 15 minutes and were refused. Raise the arbiter's max wait, or "
                        "see which app holds the card in its /status.",
                    },
                },
                {
                    "alert": "VramArbiterDown",
                    "expr": f"up{{{sel}}} == 0 or absent(up{{{sel}}})",
                    "for": "5m",
                    "labels": {"severity": "critical"},
                    "annotations": {
                        "summary": "the VRAM arbiter is down",
                        "description": "Open WebUI reaches Ollama and Stable Diffusion through the arbiter: chats "
                        "and images fail until it is back. Check the pod's events and log.",
                    },
                },
            ],
        }
    ]


def _panel(
    panel_id: int, title: str, targets: list[tuple[str, str]], *, x: int, y: int, unit: str, stack: bool = False
) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "custom": {"stacking": {"mode": "normal" if stack else "none"}, "fillOpacity": 20 if stack else 0},
            },
            "overrides": [],
        },
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "expr": expr,
                "legendFormat": legend,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
            }
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def dashboard(name: str, namespace: str) -> dict[str, Any]:
    """The Grafana dashboard: observed VRAM against the card and the envelopes, and every decision."""
    sel = _selector(name, namespace)
    panels = [
        _panel(
            1,
            "Observed VRAM per app (stacked) and the card",
            [
                (f"vram_arbiter_app_observed_vram_bytes{{{sel}}}", "{{app}}"),
                (f"max(vram_arbiter_card_vram_bytes{{{sel}}})", "card"),
            ],
            x=0,
            y=0,
            unit="bytes",
            stack=False,
        ),
        _panel(
            2,
            "What the arbiter counts per app, against its active_max",
            [
                (f"vram_arbiter_app_claim_vram_bytes{{{sel}}}", "{{app}} counted"),
                (f"vram_arbiter_app_active_max_vram_bytes{{{sel}}}", "{{app}} active_max"),
            ],
            x=12,
            y=0,
            unit="bytes",
        ),
        _panel(
            3,
            "Requests per second: admitted, waited, refused",
            [
                (f"sum by (app) (rate(vram_arbiter_admissions_total{{{sel}}}[5m]))", "{{app}} admitted"),
                (f"sum by (app) (rate(vram_arbiter_waits_total{{{sel}}}[5m]))", "{{app}} waited"),
                (f"sum by (app) (rate(vram_arbiter_refusals_total{{{sel}}}[5m]))", "{{app}} refused"),
            ],
            x=0,
            y=8,
            unit="reqps",
        ),
        _panel(
            4,
            "Time spent waiting for the card (seconds per second)",
            [(f"sum by (app) (rate(vram_arbiter_wait_seconds_total{{{sel}}}[5m]))", "{{app}}")],
            x=12,
            y=8,
            unit="s",
        ),
        _panel(
            5,
            "Unloads by reason, and overlaps (per hour)",
            [
                (
                    f"sum by (app, reason) (increase(vram_arbiter_unloads_total{{{sel}}}[1h]))",
                    "{{app}} unloaded ({{reason}})",
                ),
                (f"sum by (app) (increase(vram_arbiter_overlaps_total{{{sel}}}[1h]))", "{{app}} overlaps"),
            ],
            x=0,
            y=16,
            unit="short",
        ),
        _panel(
            6,
            "State: up, loaded, busy, in flight, waiting",
            [
                (f"vram_arbiter_app_up{{{sel}}}", "{{app}} up"),
                (f"vram_arbiter_app_loaded{{{sel}}}", "{{app}} loaded"),
                (f"vram_arbiter_app_busy{{{sel}}}", "{{app}} busy"),
                (f"vram_arbiter_inflight_requests{{{sel}}}", "{{app}} in flight"),
                (f"vram_arbiter_waiting_requests{{{sel}}}", "{{app}} waiting"),
            ],
            x=12,
            y=16,
            unit="short",
        ),
    ]
    return {
        "uid": f"{name}-{namespace}"[:40],
        "title": f"VRAM arbiter ({namespace}/{name})",
        "tags": ["homelab-ai", "gpu"],
        "schemaVersion": 39,
        "editable": False,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "panels": panels,
    }


class VramArbiterMonitoring(Construct):
    """ServiceMonitor, PrometheusRule and dashboard ConfigMap of one arbiter, each when asked for."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        props: VramArbiterMonitoringProps,
        *,
        arbiter: Any,
    ) -> None:
        super().__init__(scope, id)
        self.props = props
        name: str = arbiter.props.name
        namespace = cdk8s.Chart.of(self).namespace or "default"
        managed = {"app.kubernetes.io/managed-by": "homelab-ai", NAME_LABEL: name}
        self.service_monitor: cdk8s.ApiObject | None = None
        self.rule: cdk8s.ApiObject | None = None
        self.dashboard: cdk8s.ApiObject | None = None
        if props.service_monitor:
            self.service_monitor = cdk8s.ApiObject(
                self,
                "ServiceMonitor",
                api_version="monitoring.coreos.com/v1",
                kind="ServiceMonitor",
                metadata=cdk8s.ApiObjectMetadata(name=name, labels={**managed, **props.labels}),
            )
            self.service_monitor.add_json_patch(
                cdk8s.JsonPatch.add(
                    "/spec",
                    {
                        "selector": {"matchLabels": {NAME_LABEL: name}},
                        "endpoints": [
                            {"port": "metrics", "path": "/metrics", "interval": go_duration(props.scrape_interval)}
                        ],
                    },
                )
            )
            # The scrape door: Prometheus in, on the metrics port only.
            self.network_policy = AppNetworkPolicy(
                self,
                "NetworkPolicy",
                AppNetworkPolicyProps(
                    name=f"{name}-metrics",
                    pods=PodSelector(labels={NAME_LABEL: name}),
                    ports=(arbiter.props.status_port,),
                    allow_from=(props.prometheus,),
                ),
            )
        if props.rules:
            self.rule = cdk8s.ApiObject(
                self,
                "PrometheusRule",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata=cdk8s.ApiObjectMetadata(name=name, labels={**managed, **props.labels}),
            )
            self.rule.add_json_patch(cdk8s.JsonPatch.add("/spec", {"groups": rule_groups(name, namespace, props)}))
        if props.dashboard:
            board = dashboard(name, namespace)
            self.dashboard = cdk8s.ApiObject(
                self,
                "Dashboard",
                api_version="v1",
                kind="ConfigMap",
                metadata=cdk8s.ApiObjectMetadata(
                    name=f"{name}-dashboard",
                    namespace=props.dashboard_namespace,
                    labels={**managed, DASHBOARD_LABEL: "1"},
                ),
            )
            self.dashboard.add_json_patch(
                cdk8s.JsonPatch.add("/data", {f"{name}.json": json.dumps(board, indent=1, sort_keys=True)})
            )
