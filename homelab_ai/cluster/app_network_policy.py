"""AppNetworkPolicy: the only doors into and out of one app's pods.

Ingress: the app's ports, from anywhere (an app behind a LoadBalancer) or only from the client
pods it names. Egress: DNS, the endpoints it talks to, and the internet only when asked (model
downloads). ``allow_from`` wires a client and a server in one call: the server accepts the
client, and the client may reach the server.
"""

from __future__ import annotations

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.network_values import ApiServerEgress, DnsServer, Endpoint, InternetEgress, PodSelector
from homelab_ai.base.validators import as_tuple, dns1123_label, ports, typed_fields


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class AppNetworkPolicyProps:
    """Whose traffic (``pods``), on which ports it serves, who may connect, where it may go.

    Everything not listed is denied, both ways, once this policy selects the pods: DNS stays open
    (``dns``) because nothing works without it.
    """

    name: str = attrs.field(validator=dns1123_label)
    """Name of the NetworkPolicy, usually the app's. Required."""
    pods: PodSelector
    """The pods this policy selects: the app's. Required."""
    ports: tuple[int, ...] = attrs.field(default=(), converter=as_tuple, validator=ports)
    """Container port numbers the pods serve on: clients get in on these only. Default: none."""
    from_anywhere: bool = False
    """Accept every client on ports (an app behind a LoadBalancer). Default False."""
    allow_from: tuple[PodSelector, ...] = attrs.field(default=(), converter=as_tuple)
    """Client pods accepted on ports when not from_anywhere. Default: none."""
    egress_to: tuple[Endpoint, ...] = attrs.field(default=(), converter=as_tuple)
    """Endpoints (pods and port) the pods may connect to, besides DNS. Default: none."""
    internet: InternetEgress | None = None
    """Outbound internet access, never the LAN. Default None: no internet."""
    api_server: ApiServerEgress | None = None
    """The Kubernetes API, for pods that call it with their service account. Default None: no access."""
    dns: DnsServer = DnsServer()
    """The cluster DNS the pods can always reach. Default DnsServer(): kube-dns in kube-system, port 53."""

    def __attrs_post_init__(self) -> None:
        if (self.from_anywhere or self.allow_from) and not self.ports:
            raise HomelabConfigError(
                "AppNetworkPolicyProps.ports",
                "clients are allowed in but no port is open",
                "list the ports the pods serve on, e.g. ports=(8080,)",
            )
        if self.from_anywhere and self.allow_from:
            raise HomelabConfigError(
                "AppNetworkPolicyProps.allow_from",
                "from_anywhere already admits every client, so allow_from would say nothing",
                "drop allow_from, or set from_anywhere=False to admit only the listed pods",
            )


class AppNetworkPolicy(Construct):
    """One NetworkPolicy named after the app; more clients and endpoints can be added after creation."""

    def __init__(self, scope: Construct, id: str, props: AppNetworkPolicyProps) -> None:
        super().__init__(scope, id)
        self.props = props
        ingress: list[dict] = []
        if props.from_anywhere:
            ingress.append({"ports": self._port_list()})
        egress: list[dict] = [props.dns.rule()]
        self._resource = cdk8s.ApiObject(
            self,
            "Resource",
            api_version="networking.k8s.io/v1",
            kind="NetworkPolicy",
            metadata=cdk8s.ApiObjectMetadata(name=props.name, labels={"app.kubernetes.io/managed-by": "homelab-ai"}),
        )
        self._resource.add_json_patch(
            cdk8s.JsonPatch.add(
                "/spec",
                {
                    "podSelector": {"matchLabels": dict(sorted(props.pods.labels.items()))},
                    "policyTypes": ["Ingress", "Egress"],
                    "ingress": ingress,
                    "egress": egress,
                },
            )
        )
        self._clients: list[PodSelector] = []
        self._endpoints: list[Endpoint] = []
        self._ranges: list[InternetEgress] = []
        for client in props.allow_from:
            self.allow_from(client)
        for endpoint in props.egress_to:
            self.allow_to(endpoint)
        if props.internet is not None:
            self._resource.add_json_patch(cdk8s.JsonPatch.add("/spec/egress/-", props.internet.rule()))
        if props.api_server is not None:
            self._resource.add_json_patch(cdk8s.JsonPatch.add("/spec/egress/-", props.api_server.rule()))

    def _port_list(self) -> list[dict]:
        return [{"port": p, "protocol": "TCP"} for p in self.props.ports]

    @property
    def name(self) -> str:
        """Name of the NetworkPolicy."""
        return self.props.name

    @property
    def pods(self) -> PodSelector:
        """The pods the policy selects."""
        return self.props.pods

    @property
    def clients(self) -> tuple[PodSelector, ...]:
        """Client pods accepted so far, from props and allow_from calls."""
        return tuple(self._clients)

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """Endpoints the pods may reach so far, from props and allow_to calls."""
        return tuple(self._endpoints)

    def allow_from(self, client: PodSelector | AppNetworkPolicy) -> None:
        """Accept ``client`` on this app's ports; a client given as its policy may also reach them."""
        if not self.props.ports:
            raise HomelabConfigError(
                f"AppNetworkPolicy({self.name}).allow_from",
                "this app opens no port",
                "give its policy ports=(...) before admitting clients",
            )
        selector = client.pods if isinstance(client, AppNetworkPolicy) else client
        if selector in self._clients:
            return
        self._clients.append(selector)
        if not self.props.from_anywhere:
            self._resource.add_json_patch(
                cdk8s.JsonPatch.add("/spec/ingress/-", {"from": [selector.peer()], "ports": self._port_list()})
            )
        if isinstance(client, AppNetworkPolicy):
            for number in self.props.ports:
                client.allow_to(Endpoint(pods=self.props.pods, port=number))

    @property
    def ranges(self) -> tuple[InternetEgress, ...]:
        """Address ranges opened after creation (``allow_range``), beside ``props.internet``."""
        return tuple(self._ranges)

    def allow_range(self, egress: InternetEgress) -> None:
        """Let these pods open connections to an address range (a sign-in provider on the LAN, say)."""
        if egress == self.props.internet or egress in self._ranges:
            return
        self._ranges.append(egress)
        self._resource.add_json_patch(cdk8s.JsonPatch.add("/spec/egress/-", egress.rule()))

    def allow_egress(self, to: Endpoint | InternetEgress) -> None:
        """``allow_to`` for pods, ``allow_range`` for an address range."""
        if isinstance(to, Endpoint):
            self.allow_to(to)
        else:
            self.allow_range(to)

    def allow_to(self, endpoint: Endpoint) -> None:
        """Let these pods open connections to ``endpoint``."""
        if endpoint in self._endpoints:
            return
        self._endpoints.append(endpoint)
        self._resource.add_json_patch(
            cdk8s.JsonPatch.add(
                "/spec/egress/-",
                {"to": [endpoint.pods.peer()], "ports": [{"port": endpoint.port, "protocol": endpoint.protocol}]},
            )
        )
