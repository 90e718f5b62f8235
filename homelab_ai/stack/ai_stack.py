"""AiStack: a whole AI namespace (Ollama, Open WebUI, Stable Diffusion on one shared card) from one props class.

Every site-specific fact (addresses, sizes, the card, VRAM envelopes, secret files, models, backup
schedule) is a field of :class:`AiStackProps`; everything else is homelab-ai's defaults. Another repo
builds its own stack from its own facts, and adds GPU apps of its own to ``stack.gpu``: the VRAM
budget then counts them with the stack's apps.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import attrs
import cdk8s
from constructs import Construct

from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.network_values import ApiServerEgress, InternetEgress
from homelab_ai.base.validators import (
    as_path,
    cron,
    dns1123_label,
    dns1123_subdomain,
    host_name,
    typed_fields,
    whole_number,
)
from homelab_ai.cluster.flux_kustomization import FluxKustomization, FluxKustomizationProps
from homelab_ai.cluster.load_balancer import LoadBalancer
from homelab_ai.cluster.longhorn.pre_upgrade_snapshot import PreUpgradeSnapshot, PreUpgradeSnapshotProps
from homelab_ai.cluster.longhorn.recurring_job import LonghornRecurringJob, LonghornRecurringJobProps, RecurringTask
from homelab_ai.cluster.longhorn.restore_drill import FileCount, RestoreDrill, RestoreDrillProps, SqliteIntegrity
from homelab_ai.cluster.longhorn.storage_class import LonghornStorageClass, LonghornStorageClassProps
from homelab_ai.cluster.longhorn.volume import LonghornVolumeProps
from homelab_ai.cluster.namespace_isolation import NamespaceIsolation
from homelab_ai.cluster.pod_security import PodSecurityLevel
from homelab_ai.cluster.routing.app_route import AppRoute, AppRouteProps
from homelab_ai.cluster.routing.route_tls import RouteTlsSecret, RouteTlsSecretProps
from homelab_ai.cluster.routing.values import Routing
from homelab_ai.cluster.secure_namespace import SecureNamespace, SecureNamespaceProps
from homelab_ai.gpu.device_plugin import NvidiaDevicePlugin, NvidiaDevicePluginProps
from homelab_ai.gpu.runtime_class import NvidiaRuntimeClass
from homelab_ai.gpu.shared_gpu import SharedGpu, SharedGpuProps
from homelab_ai.gpu.vram import VramEnvelope
from homelab_ai.secrets.sops_secret import SopsSecret, SopsSecretProps
from homelab_ai.services.oauth2_proxy.oauth2_proxy import OAuth2Proxy, OAuth2ProxyProps
from homelab_ai.services.ollama.llm_backend import LlmBackend, LlmBackendProps
from homelab_ai.services.ollama.model_pull import model_names, model_tuple
from homelab_ai.services.open_webui.oidc_login import OpenWebUIOidc
from homelab_ai.services.open_webui.open_webui import OpenWebUI, OpenWebUIProps
from homelab_ai.services.stable_diffusion.checkpoint_fetch import Checkpoint, checkpoint_list, checkpoint_tuple
from homelab_ai.services.stable_diffusion.stable_diffusion import StableDiffusion, StableDiffusionProps
from homelab_ai.services.vram_arbiter.arbiter import VramArbiter, VramArbiterProps
from homelab_ai.services.vram_arbiter.monitoring import VramArbiterMonitoringProps
from homelab_ai.stack.sign_in import SignIn

# The SOPS files of the stack's two secrets, inside AiStackProps.secrets_dir.
OPEN_WEBUI_SECRET_FILE = "open-webui.sops.yaml"
STABLE_DIFFUSION_SECRET_FILE = "stable-diffusion.sops.yaml"
# With AiStackProps.sign_in: the OIDC client's secret (typed in) and the sign-in proxy's cookie key.
SIGN_IN_SECRET_FILE = "sign-in.sops.yaml"


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class AiStackProps:
    """The site's facts for one AI namespace; the defaults are the spec's sizes and schedules."""

    gpu: SharedGpuProps
    """The shared card: its name, VRAM (GiB) and time-slicing replicas. Required."""
    ollama_vram: VramEnvelope
    """Ollama's VRAM when idle and busy (GiB), for the card's budget. Required."""
    stable_diffusion_vram: VramEnvelope
    """Stable Diffusion's VRAM when idle and busy (GiB), for the card's budget. Required."""
    open_webui_address: LoadBalancer | None
    """Open WebUI's LAN address: IP, port and load-balancer provider; None only with a host name. Required."""
    stable_diffusion_address: LoadBalancer | None
    """Stable Diffusion's LAN address: IP, port and load-balancer provider; None only with a host name. Required."""
    secrets_dir: Path = attrs.field(converter=as_path)
    """Folder of the SOPS files open-webui.sops.yaml and stable-diffusion.sops.yaml. Required."""
    namespace: str = attrs.field(default="ai", validator=dns1123_label)
    """Namespace of the apps, and the dist/ folder they are written to. Default "ai"."""
    models: tuple[str, ...] = attrs.field(default=(), converter=model_tuple, validator=model_names)
    """Ollama models a Job pulls once Ollama answers, e.g. ("llama3.2",). Default: none."""
    checkpoints: tuple[Checkpoint, ...] = attrs.field(default=(), converter=checkpoint_tuple, validator=checkpoint_list)
    """Stable Diffusion files downloaded and checksum-verified before the web UI starts. Default: none."""
    ollama_models_gib: int = attrs.field(default=100, validator=whole_number(1))
    """Size of the ollama-models claim, GiB. Default 100."""
    open_webui_data_gib: int = attrs.field(default=10, validator=whole_number(1))
    """Size of the open-webui-data claim (users, chats), GiB. Default 10."""
    stable_diffusion_data_gib: int = attrs.field(default=150, validator=whole_number(1))
    """Size of the sd-data claim (checkpoints, LoRAs, outputs), GiB. Default 150."""
    user_data_storage_class: str = attrs.field(default="longhorn-retain", validator=dns1123_subdomain)
    """Longhorn class (reclaimPolicy Retain) of the claims that hold what people made. Default "longhorn-retain"."""
    storage_replicas: int = attrs.field(default=3, validator=whole_number(1))
    """Longhorn replicas of that class: default 3 (Longhorn's own); 1 on a single-node cluster."""
    user_data_group: str = attrs.field(default="user-data", validator=dns1123_label)
    """Longhorn recurring-job group of the user-data claims. Default "user-data"."""
    snapshot_schedule: str = attrs.field(default="0 * * * *", validator=cron)
    """Cron schedule of the user-data snapshots. Default hourly ("0 * * * *")."""
    snapshots_kept: int = attrs.field(default=24, validator=whole_number(1))
    """How many snapshots of each user-data claim Longhorn keeps. Default 24."""
    backup_schedule: str = attrs.field(default="0 3 * * *", validator=cron)
    """Cron schedule of the user-data backups to Longhorn's backup target. Default daily at 03:00."""
    backups_kept: int = attrs.field(default=14, validator=whole_number(1))
    """How many backups of each user-data claim Longhorn keeps. Default 14."""
    internet_downloads: bool = True
    """Open outbound HTTPS for model pulls, checkpoint downloads and Open WebUI's embedding model. Default on."""
    flux_prefix: str = attrs.field(default="homelab-ai", validator=dns1123_label)
    """Prefix of the Flux Kustomizations' names (<prefix>-infrastructure, <prefix>-apps). Default "homelab-ai"."""
    routing: Routing | None = None
    """Reach the apps by host name over HTTPS: Gateway or Ingress, certificate, DNS. Default none (LAN IPs only)."""
    open_webui_hostname: str | None = attrs.field(default=None, validator=attrs.validators.optional(host_name))
    """Open WebUI's host name, e.g. "chat.home.example.com" (needs routing). Default none."""
    stable_diffusion_hostname: str | None = attrs.field(default=None, validator=attrs.validators.optional(host_name))
    """Stable Diffusion's host name, e.g. "images.home.example.com" (needs routing). Default none."""
    sign_in: SignIn | None = None
    """One OpenID Connect login: Open WebUI's own, and a sign-in proxy before Stable Diffusion's route. Default none."""
    snapshot_before_upgrade: bool = True
    """Snapshot open-webui-data before Flux deploys a new Open WebUI image (it migrates its DB one way). Default on."""
    open_webui_drill_schedule: str | None = attrs.field(default=None, validator=attrs.validators.optional(cron))
    """Cron schedule of a drill restoring open-webui-data's newest backup and SQLite-checking it. Default None: off."""
    stable_diffusion_drill_schedule: str | None = attrs.field(default=None, validator=attrs.validators.optional(cron))
    """Cron schedule of a drill restoring sd-data's newest backup and counting its files. Default None: off."""
    drill_api_server: ApiServerEgress = ApiServerEgress()
    """Where the drills' pods may reach the Kubernetes API. Default ports 443 and 6443 at any address."""
    vram_arbiter: bool = False
    """Put the VRAM arbiter in front of Ollama and Stable Diffusion (Open WebUI goes through it). Default off."""
    vram_arbiter_monitoring: VramArbiterMonitoringProps | None = None
    """The arbiter's ServiceMonitor, PrometheusRule and Grafana dashboard. Default None: none of them."""

    def __attrs_post_init__(self) -> None:
        if self.vram_arbiter_monitoring is not None and not self.vram_arbiter:
            raise HomelabConfigError(
                "AiStackProps.vram_arbiter_monitoring",
                "monitors a VRAM arbiter the stack does not have",
                "set vram_arbiter=True, or drop vram_arbiter_monitoring",
            )
        hosts = {
            "open_webui_hostname": self.open_webui_hostname,
            "stable_diffusion_hostname": self.stable_diffusion_hostname,
        }
        named = [field for field, host in hosts.items() if host is not None]
        if named and self.routing is None:
            raise HomelabConfigError(
                f"AiStackProps.{named[0]}",
                "a host name is given but routing does not say how it reaches the cluster",
                "set routing=Routing(via=GatewayListener(...) or IngressClass(...), controller=..., tls=...)",
            )
        if self.routing is not None and not named:
            raise HomelabConfigError(
                "AiStackProps.routing",
                "routing is set but no app has a host name",
                "set open_webui_hostname and/or stable_diffusion_hostname, or drop routing",
            )
        if self.open_webui_hostname is not None and self.open_webui_hostname == self.stable_diffusion_hostname:
            raise HomelabConfigError(
                "AiStackProps.stable_diffusion_hostname",
                f"{self.open_webui_hostname!r} is Open WebUI's host name too; one name can lead to one app only",
                "give each app a host name of its own",
            )
        for app, address, host in (
            ("open_webui", self.open_webui_address, self.open_webui_hostname),
            ("stable_diffusion", self.stable_diffusion_address, self.stable_diffusion_hostname),
        ):
            if address is None and host is None:
                raise HomelabConfigError(
                    f"AiStackProps.{app}_address",
                    "is None and there is no host name either, so nobody could reach the app",
                    f"give a LoadBalancer(ip=...) or set {app}_hostname (with routing)",
                )
        if self.sign_in is not None and self.open_webui_hostname is None:
            raise HomelabConfigError(
                "AiStackProps.sign_in",
                "the provider sends people back to Open WebUI's HTTPS address, and it has no host name",
                "set open_webui_hostname (with routing)",
            )


class AiStack(Construct):
    """Four charts (cluster infrastructure, the namespace, its apps, their Flux wiring) under one construct.

    Build it under a ``cdk8s.App``; ``folders`` says which dist/ folder each chart goes to.
    """

    def __init__(self, scope: Construct, id: str, props: AiStackProps) -> None:
        super().__init__(scope, id)
        self.props = props
        ns = props.namespace
        infra = cdk8s.Chart(self, "infrastructure", disable_resource_name_hashes=True)
        namespace_chart = cdk8s.Chart(self, f"{ns}-namespace", disable_resource_name_hashes=True)
        apps = cdk8s.Chart(self, ns, namespace=ns, disable_resource_name_hashes=True)
        flux = cdk8s.Chart(self, "flux", disable_resource_name_hashes=True)
        self._folders = {
            infra.node.id: "infrastructure",
            namespace_chart.node.id: ns,
            apps.node.id: ns,
            flux.node.id: "flux",
        }
        self.apps_chart = apps
        """The namespaced chart of the apps: add objects that belong in the namespace here."""

        # Every pod runs non-root with no capabilities, so the API server can enforce "restricted";
        # the synth refuses any pod in the namespace that would break it.
        SecureNamespace(
            namespace_chart, "Namespace", SecureNamespaceProps(name=ns, enforce=PodSecurityLevel.RESTRICTED)
        )
        # Closed by default: each app's own NetworkPolicy opens only the doors it needs.
        NamespaceIsolation(apps, "Isolation")

        # Chats and generated images survive a deleted claim (Retain) and a lost node (backups).
        user_data = LonghornStorageClass(
            infra,
            "UserDataStorageClass",
            LonghornStorageClassProps(name=props.user_data_storage_class, number_of_replicas=props.storage_replicas),
        )
        # Snapshots are quick to restore but live on the same disks; backups go to Longhorn's
        # backup target (NFS or S3, configured in Longhorn) and survive the loss of the node.
        LonghornRecurringJob(
            infra,
            "UserDataSnapshots",
            LonghornRecurringJobProps(
                name=f"{props.user_data_group}-snapshot",
                task=RecurringTask.SNAPSHOT,
                cron=props.snapshot_schedule,
                groups=[props.user_data_group],
                retain=props.snapshots_kept,
            ),
        )
        LonghornRecurringJob(
            infra,
            "UserDataBackups",
            LonghornRecurringJobProps(
                name=f"{props.user_data_group}-backup",
                task=RecurringTask.BACKUP,
                cron=props.backup_schedule,
                groups=[props.user_data_group],
                retain=props.backups_kept,
            ),
        )

        self.gpu = SharedGpu(infra, "Gpu", props.gpu)
        """The shared card: give it to GpuTimeSlicedAppProps.gpu to add an app; the budget counts it."""
        runtime_class = NvidiaRuntimeClass(infra, "NvidiaRuntimeClass")
        NvidiaDevicePlugin(
            infra, "DevicePlugin", NvidiaDevicePluginProps(gpu=self.gpu, runtime_class_name=runtime_class.name)
        )

        webui_secret = SopsSecret(
            apps,
            "OpenWebUISecret",
            SopsSecretProps(
                name="open-webui-secret",
                file=props.secrets_dir / OPEN_WEBUI_SECRET_FILE,
                keys=["WEBUI_SECRET_KEY"],
                generators={"WEBUI_SECRET_KEY": "hex32"},
            ),
        )
        sd_secret = SopsSecret(
            apps,
            "StableDiffusionSecret",
            SopsSecretProps(
                name="stable-diffusion-secret",
                file=props.secrets_dir / STABLE_DIFFUSION_SECRET_FILE,
                keys=["password"],
                generators={"password": "password"},
            ),
        )
        sign_in = props.sign_in
        # Stable Diffusion has no login of its own to speak OIDC: a proxy in front of its route does.
        sd_proxied = sign_in is not None and props.stable_diffusion_hostname is not None
        self.sign_in_secret: SopsSecret | None = None
        """The OIDC client secret (typed in) and the sign-in proxy's cookie key, with sign_in."""
        if sign_in is not None:
            self.sign_in_secret = SopsSecret(
                apps,
                "SignInSecret",
                SopsSecretProps(
                    name="sign-in",
                    file=props.secrets_dir / SIGN_IN_SECRET_FILE,
                    keys=["client-secret", "cookie-secret"] if sd_proxied else ["client-secret"],
                    generators={"cookie-secret": "base64url32"} if sd_proxied else {},
                ),
            )
        self.secrets = tuple(s for s in (webui_secret, sd_secret, self.sign_in_secret) if s is not None)
        """The stack's SOPS-encrypted Secrets (`homelab-ai secrets init` creates their files)."""
        downloads = InternetEgress() if props.internet_downloads else None
        self.ollama = LlmBackend(
            apps,
            "Ollama",
            LlmBackendProps(
                gpu=self.gpu,
                vram=props.ollama_vram,
                # Models can be pulled again: no backups, the default (Delete) class.
                models_volume=LonghornVolumeProps(
                    name="ollama-models", size_gib=props.ollama_models_gib, purpose="LLM models"
                ),
                # Pulled by a Job once Ollama answers (replaces `kubectl exec ... ollama pull`).
                models=props.models,
                model_downloads=downloads,
            ),
        )
        self.stable_diffusion = StableDiffusion(
            apps,
            "StableDiffusion",
            StableDiffusionProps(
                gpu=self.gpu,
                vram=props.stable_diffusion_vram,
                secret=sd_secret,
                expose=props.stable_diffusion_address,
                data_volume=LonghornVolumeProps(
                    name="sd-data",
                    size_gib=props.stable_diffusion_data_gib,
                    purpose="Checkpoints, LoRAs, outputs",
                    storage_class=user_data.name,
                    backup_groups=[props.user_data_group],
                ),
                model_downloads=downloads,
                checkpoints=props.checkpoints,
                # Behind the sign-in proxy and off the LAN, the proxy is the one way in: no second password.
                gradio_auth=not (sd_proxied and props.stable_diffusion_address is None),
            ),
        )
        self.vram_arbiter: VramArbiter | None = None
        """The VRAM arbiter in front of the card's apps, when ``vram_arbiter`` is on."""
        if props.vram_arbiter:
            # Admits each chat and image only when it fits the card: idle apps are unloaded first,
            # the rest waits, instead of the last one to allocate running out of memory.
            self.vram_arbiter = VramArbiter(
                apps,
                "VramArbiter",
                VramArbiterProps(
                    gpu=self.gpu,
                    ollama=self.ollama,
                    stable_diffusion=self.stable_diffusion,
                    monitoring=props.vram_arbiter_monitoring,
                ),
            )
        self.open_webui = OpenWebUI(
            apps,
            "OpenWebUI",
            OpenWebUIProps(
                backend=self.ollama,
                vram_arbiter=self.vram_arbiter,
                secret=webui_secret,
                image_generation=self.stable_diffusion,
                expose=props.open_webui_address,
                data_volume=LonghornVolumeProps(
                    name="open-webui-data",
                    size_gib=props.open_webui_data_gib,
                    purpose="User data, conversations",
                    storage_class=user_data.name,
                    backup_groups=[props.user_data_group],
                ),
                # On first start it downloads its RAG embedding model from Hugging Face over HTTPS.
                internet=downloads,
                public_url=f"https://{props.open_webui_hostname}" if props.open_webui_hostname else None,
                oidc=self._open_webui_oidc(sign_in),
                # Reached only by name over HTTPS: its cookies need never cross the LAN in clear.
                secure_cookies=props.open_webui_hostname is not None and props.open_webui_address is None,
            ),
        )
        self.sign_in_proxy: OAuth2Proxy | None = None
        """The oauth2-proxy in front of Stable Diffusion's route, with sign_in and its host name."""
        if sd_proxied and sign_in is not None and self.sign_in_secret is not None:
            self.sign_in_proxy = OAuth2Proxy(
                apps,
                "StableDiffusionSignIn",
                OAuth2ProxyProps(
                    upstream=self.stable_diffusion.app,
                    public_url=f"https://{props.stable_diffusion_hostname}",
                    provider=sign_in.provider,
                    client_id=sign_in.client_id,
                    client_secret=self.sign_in_secret.key_ref("client-secret"),
                    cookie_secret=self.sign_in_secret.key_ref("cookie-secret"),
                    allowed_groups=sign_in.stable_diffusion_groups,
                    groups_claim=sign_in.groups_claim or "groups",
                    scopes=sign_in.scopes,
                    upstream_timeout=props.routing.stream_timeout if props.routing else timedelta(hours=1),
                ),
            )
        self.tls: RouteTlsSecret | None = None
        """One certificate for every host name (Secret "<namespace>-tls"), with routing.tls."""
        hostnames = tuple(h for h in (props.open_webui_hostname, props.stable_diffusion_hostname) if h)
        if props.routing is not None and props.routing.tls is not None:
            # One Secret: a Gateway listener then needs a single certificateRefs entry.
            self.tls = RouteTlsSecret(
                apps, "Tls", RouteTlsSecretProps(name=f"{ns}-tls", hostnames=hostnames, routing=props.routing)
            )
        self.open_webui_route: AppRoute | None = None
        """Open WebUI's route by host name, with routing."""
        self.stable_diffusion_route: AppRoute | None = None
        """Stable Diffusion's route by host name (to its sign-in proxy with sign_in), with routing."""
        if props.routing is not None and props.open_webui_hostname is not None:
            self.open_webui_route = AppRoute(
                apps,
                "OpenWebUIRoute",
                AppRouteProps(
                    backend=self.open_webui.app,
                    hostname=props.open_webui_hostname,
                    routing=props.routing,
                    tls=self.tls,
                ),
            )
        if props.routing is not None and props.stable_diffusion_hostname is not None:
            self.stable_diffusion_route = AppRoute(
                apps,
                "StableDiffusionRoute",
                AppRouteProps(
                    backend=self.sign_in_proxy.app if self.sign_in_proxy else self.stable_diffusion.app,
                    hostname=props.stable_diffusion_hostname,
                    routing=props.routing,
                    name=self.stable_diffusion.name,
                    tls=self.tls,
                ),
            )

        self.pre_upgrade_snapshot: PreUpgradeSnapshot | None = None
        """The Job that snapshots open-webui-data before a new Open WebUI image (None when switched off)."""
        if props.snapshot_before_upgrade:
            # In the infrastructure folder: Flux applies (and waits for) it before the apps' folder.
            self.pre_upgrade_snapshot = PreUpgradeSnapshot(
                infra,
                "OpenWebUIPreUpgrade",
                PreUpgradeSnapshotProps(
                    name="open-webui-pre-upgrade", volumes=[self.open_webui.data], image=self.open_webui.props.image
                ),
            )
        drills = []
        if props.open_webui_drill_schedule:
            drills.append(
                RestoreDrill(
                    apps,
                    "OpenWebUIRestoreDrill",
                    RestoreDrillProps(
                        volume=self.open_webui.data,
                        # Users and chats live in DATA_DIR/webui.db (open_webui/env.py@0.6.5 L265, @0.12.4 L271).
                        check=SqliteIntegrity(file="webui.db"),
                        schedule=props.open_webui_drill_schedule,
                        security=self.open_webui.props.security,
                        api_server=props.drill_api_server,
                    ),
                )
            )
        if props.stable_diffusion_drill_schedule:
            drills.append(
                RestoreDrill(
                    apps,
                    "StableDiffusionRestoreDrill",
                    RestoreDrillProps(
                        volume=self.stable_diffusion.data,
                        check=FileCount(min_files=1),
                        schedule=props.stable_diffusion_drill_schedule,
                        # Checkpoints make sd-data big: its restore takes longer.
                        timeout=timedelta(hours=6),
                        security=self.stable_diffusion.props.security,
                        api_server=props.drill_api_server,
                    ),
                )
            )
        self.restore_drills = tuple(drills)
        """The scheduled restore drills (none unless their schedules are set)."""

        # Flux applies each dist/ folder from the repo it was bootstrapped with: the device-plugin
        # config first, then the apps, with their SOPS secrets decrypted.
        self.flux_chart = flux
        """The chart of the Flux Kustomizations: add one here for a folder of your own."""
        self.flux_infrastructure = FluxKustomization(
            flux,
            "Infrastructure",
            FluxKustomizationProps(
                name=f"{props.flux_prefix}-infrastructure", folder="infrastructure", charts=[infra], wait=True
            ),
        )
        """Applies dist/infrastructure; depend on it for objects that need the card or the storage classes."""
        self.flux_apps = FluxKustomization(
            flux,
            "Apps",
            FluxKustomizationProps(
                name=f"{props.flux_prefix}-apps",
                folder=ns,
                charts=[namespace_chart, apps],
                depends_on=[self.flux_infrastructure],
            ),
        )
        """Applies the namespace's folder (and decrypts its secrets); depend on it for apps in the namespace."""

    def _open_webui_oidc(self, sign_in: SignIn | None) -> OpenWebUIOidc | None:
        if sign_in is None or self.sign_in_secret is None:
            return None
        return OpenWebUIOidc(
            provider=sign_in.provider,
            client_id=sign_in.client_id,
            client_secret=self.sign_in_secret.key_ref("client-secret"),
            scopes=sign_in.scopes,
            roles_claim=sign_in.roles_claim,
            admin_roles=sign_in.admin_roles,
            allowed_roles=sign_in.allowed_roles,
            groups_claim=sign_in.groups_claim,
            signup=sign_in.signup,
            password_login=sign_in.password_login,
        )

    @property
    def app(self) -> cdk8s.App:
        """The cdk8s App the stack was built in."""
        return self.node.root  # type: ignore[return-value]

    @property
    def folders(self) -> dict[str, str]:
        """Chart id -> dist/ folder: a build function returns ``(stack.app, stack.folders)`` to `homelab-ai synth`."""
        return dict(self._folders)
