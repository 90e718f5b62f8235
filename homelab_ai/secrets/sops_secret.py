"""SopsSecret: a Secret that exists only as a SOPS-encrypted manifest in the repo.

The construct never sees a plaintext value. It points at the encrypted file, checks its plaintext
structure (names, keys, SOPS metadata, recipients) at synth time, and the synth copies the file
into ``dist/`` byte for byte: re-serializing it (as cdk8s ``Include`` does) would break the SOPS MAC.
``homelab-ai secrets init`` creates the file; every refusal here names the command that fixes it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import attrs
import cdk8s
import yaml
from constructs import Construct

from homelab_ai.base.construct_validation import Validation
from homelab_ai.base.errors import HomelabConfigError
from homelab_ai.base.plain_synth import attach
from homelab_ai.base.validators import (
    as_dict,
    as_path,
    as_tuple,
    dns1123_label,
    dns1123_subdomain,
    field_name,
    secret_key,
    typed_fields,
)
from homelab_ai.secrets import sops

_ENCRYPTED = re.compile(r"^ENC\[AES256_GCM,data:.*,iv:.*,tag:.*,type:\w+\]$", re.DOTALL)
_PLACEHOLDER = re.compile(
    r"REPLACE|CHANGE[_-]?ME|PLACEHOLDER|TODO|FIXME|<[^>]*>|^x+$|^example|^(secret|password|changeit)$",
    re.IGNORECASE,
)
_PLACEHOLDER_IN_PLAINTEXT = re.compile(r"REPLACE_WITH|CHANGE[_-]?ME|PLACEHOLDER", re.IGNORECASE)
_SOPS_MASTER_KEYS = ("age", "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms", "key_groups")

# How `homelab-ai secrets init` makes a value; the name is what SopsSecretProps.generators takes.
GENERATORS: dict[str, Callable[[], str]] = {
    # 32 random bytes as 64 hex characters, like `openssl rand -hex 32` (Open WebUI's session key).
    "hex32": lambda: secrets.token_hex(32),
    # 48 random bytes, URL-safe base64 (64 characters): safe inside user:password and URLs.
    "password": lambda: secrets.token_urlsafe(48),
    # 32 random bytes, unpadded URL-safe base64 (43 characters): an AES-256 key that oauth2-proxy
    # decodes back to 32 bytes (pkg/encryption/utils.go@v7.15.3 SecretBytes, L24-38).
    "base64url32": lambda: secrets.token_urlsafe(32),
}


@attrs.frozen(field_transformer=typed_fields)
class SecretKeyRef:
    """A reference to one key of one Secret: what consumers put in ``secretKeyRef``."""

    secret_name: str
    """Name of the Secret. Required."""
    key: str
    """Key inside the Secret. Required."""
    checksum: str | None = None
    """sha256 of the encrypted file behind the Secret, put on readers' pods to roll them. Default None: unmanaged."""


def _keys_tuple(value: Sequence[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return as_tuple(value)


def _sops_file(instance: object, attribute: attrs.Attribute[Path], value: Path) -> None:
    if not value.name.endswith((".sops.yaml", ".sops.yml")):
        raise HomelabConfigError(
            field_name(instance, attribute),
            f"{str(value)!r} does not end in .sops.yaml",
            "name it NAME.sops.yaml (e.g. apps/secrets/open-webui.sops.yaml) so that the .sops.yaml creation "
            "rule matches it and readers see it is encrypted",
        )


@attrs.frozen(kw_only=True, field_transformer=typed_fields)
class SopsSecretProps:
    """Where the encrypted manifest lives, and which keys it must hold.

    ``generators`` says how ``homelab-ai secrets init`` makes each key's value ("hex32" or
    "password"); for a key without one, init asks for the value on the terminal (no echo).
    """

    name: str = attrs.field(validator=dns1123_subdomain)
    """Name of the Secret. Required."""
    file: Path = attrs.field(converter=as_path, validator=_sops_file)
    """The SOPS-encrypted manifest, named NAME.sops.yaml. Required."""
    keys: tuple[str, ...] = attrs.field(converter=_keys_tuple, validator=attrs.validators.deep_iterable(secret_key))
    """Keys the Secret must hold: the ones consumers read. Required."""
    generators: dict[str, str] = attrs.field(factory=dict, converter=as_dict)
    """How secrets init makes a key's value ("hex32", "password"); others are asked. Default: none."""
    namespace: str | None = attrs.field(default=None, validator=attrs.validators.optional(dns1123_label))
    """Namespace of the Secret. Default None: the chart's."""

    @keys.validator
    def _at_least_one_and_unique(self, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]) -> None:
        if not value:
            raise HomelabConfigError("SopsSecretProps.keys", "no keys declared", "list the keys consumers read")
        duplicates = sorted({key for key in value if value.count(key) > 1})
        if duplicates:
            raise HomelabConfigError(
                "SopsSecretProps.keys", f"{', '.join(duplicates)} declared twice", "list each key once"
            )

    @generators.validator
    def _known_generators_for_declared_keys(self, attribute: attrs.Attribute[dict], value: dict[str, str]) -> None:
        for key, kind in value.items():
            if key not in self.keys:
                raise HomelabConfigError(
                    "SopsSecretProps.generators",
                    f"generator for {key!r}, which is not in keys ({', '.join(self.keys)})",
                    f"add {key!r} to keys or drop its generator",
                )
            if kind not in GENERATORS:
                raise HomelabConfigError(
                    "SopsSecretProps.generators",
                    f"{key}: unknown generator {kind!r}",
                    f"use one of {', '.join(repr(g) for g in GENERATORS)}",
                )


class SopsSecret(Construct):
    """The Secret ``name``, kept SOPS-encrypted in ``file``; consumers use :meth:`key_ref`."""

    def __init__(self, scope: Construct, id: str, props: SopsSecretProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.node.add_validation(Validation(self.problems))
        # A plain `app.synth()` copies this file into its output too (cdk8s would drop it).
        attach(self, plaintext_secret_problems)

    @property
    def name(self) -> str:
        """Name of the Secret."""
        return self.props.name

    @property
    def namespace(self) -> str | None:
        """Namespace of the Secret: the props' or the chart's."""
        return self.props.namespace or cdk8s.Chart.of(self).namespace

    @property
    def file(self) -> Path:
        """The SOPS-encrypted manifest in the repo."""
        return self.props.file

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys the Secret holds."""
        return self.props.keys

    @property
    def output_name(self) -> str:
        """File name in ``dist/``; ``.sops.yaml`` tells readers (and tools) it is encrypted."""
        return f"secret-{self.props.name}.sops.yaml"

    def key_ref(self, key: str) -> SecretKeyRef:
        """Reference one declared key; asking for an undeclared key is a programming error."""
        if key not in self.props.keys:
            raise HomelabConfigError(
                f"SopsSecret({self.props.name}).key_ref",
                f"key {key!r} is not declared (declared: {', '.join(self.props.keys)})",
                f"add {key!r} to SopsSecretProps.keys and re-run `homelab-ai secrets init --rotate {self.props.name}`",
            )
        return SecretKeyRef(secret_name=self.props.name, key=key, checksum=self.checksum)

    @property
    def checksum(self) -> str | None:
        """sha256 of the encrypted file's bytes (what reaches dist/), or None while the file is missing."""
        try:
            return hashlib.sha256(self.props.file.read_bytes()).hexdigest()
        except OSError:
            return None

    def plaintext_manifest(self, values: Mapping[str, str]) -> dict:
        """The Secret manifest ``values`` go in, for sops to encrypt (never written anywhere)."""
        metadata: dict[str, str] = {"name": self.props.name}
        if self.namespace is not None:
            metadata["namespace"] = self.namespace
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata,
            "type": "Opaque",
            "stringData": {key: values[key] for key in self.props.keys},
        }

    def problems(self) -> list[str]:
        """What is wrong with the encrypted file, read from its plaintext structure only."""
        return check_sops_file(self.props.file, self.props.name, self.namespace, self.props.keys)

    def plain_synth_files(self) -> dict[str, bytes]:
        """The encrypted file, byte for byte: re-serializing it would break its SOPS MAC."""
        return {self.output_name: self.props.file.read_bytes()}

    def synth_warnings(self) -> list[str]:
        """Fine to synthesize, not fine to trust: a file encrypted to the public demo key."""
        doc = _load(self.props.file)
        if doc is None or sops.DEMO_AGE_RECIPIENT not in sops.file_age_recipients(doc):
            return []
        return [
            f"{_where(self.props.name, self.props.file)}: encrypted to the public DEMO age key, so anyone can "
            "read it; before you deploy real secrets run `homelab-ai secrets new-key` (see README, Secrets)"
        ]


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is below it: copy-pastable into a command."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _where(name: str, path: Path) -> str:
    return f"SopsSecret {name!r} ({display_path(path)})"


def _load(path: Path) -> dict | None:
    try:
        doc = yaml.safe_load(path.read_bytes())
    except (OSError, yaml.YAMLError):
        return None
    return doc if isinstance(doc, dict) else None


def check_sops_file(path: Path, name: str, namespace: str | None, keys: Sequence[str]) -> list[str]:
    """Structural checks that need no private key: the file is SOPS-encrypted and matches the construct."""
    path = Path(path)
    where = _where(name, path)
    if not path.is_file():
        return [f"{where}: file is missing; run `homelab-ai secrets init`"]
    rotate = f"run `homelab-ai secrets init --rotate {name}`"
    try:
        doc = yaml.safe_load(path.read_bytes())
    except yaml.YAMLError as exc:
        return [f"{where}: not valid YAML ({exc.__class__.__name__}); {rotate}"]
    if not isinstance(doc, dict) or not isinstance(doc.get("sops"), dict):
        return [
            f"{where}: not SOPS-encrypted (no 'sops' metadata); {rotate} (it replaces the file with an encrypted "
            "one; if the plaintext was ever committed, its values are public: rotating replaces them)"
        ]
    problems = document_problems(doc, where=where, name=name, namespace=namespace, keys=keys)
    problems.extend(_recipient_problems(doc, path, where))
    return problems


def document_problems(doc: Mapping, *, where: str, name: str, namespace: str | None, keys: Sequence[str]) -> list[str]:
    """Everything wrong with a parsed SOPS document for SopsSecret ``name``, from its plaintext parts."""
    rotate = f"run `homelab-ai secrets init --rotate {name}`"
    problems: list[str] = []
    meta_block = doc.get("sops") if isinstance(doc.get("sops"), dict) else {}
    if not any(meta_block.get(kind) for kind in _SOPS_MASTER_KEYS) or not _ENCRYPTED.match(
        str(meta_block.get("mac", ""))
    ):
        problems.append(
            f"{where}: 'sops' metadata is incomplete (no recipients or no encrypted mac), so sops did not "
            f"write it and nothing can decrypt it; {rotate}"
        )
    if doc.get("kind") != "Secret" or doc.get("apiVersion") != "v1":
        problems.append(f"{where}: is {doc.get('apiVersion')!r} {doc.get('kind')!r}, expected a v1 Secret; {rotate}")
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    if meta.get("name") != name:
        problems.append(f"{where}: metadata.name is {meta.get('name')!r} but the construct declares {name!r}; {rotate}")
    if namespace is not None and meta.get("namespace") != namespace:
        problems.append(
            f"{where}: metadata.namespace is {meta.get('namespace')!r} but the construct declares "
            f"{namespace!r}; {rotate}"
        )
    values: dict[str, object] = {}
    for section in ("data", "stringData"):
        block = doc.get(section)
        if block is None:
            continue
        if not isinstance(block, dict):
            problems.append(f"{where}: {section} is not a mapping; {rotate}")
            continue
        for key, value in block.items():
            values[str(key)] = value
            text = "" if value is None else str(value)
            if _ENCRYPTED.match(text):
                continue
            if text == "":
                problems.append(f"{where}: {section}.{key} is empty; {rotate}")
            elif _PLACEHOLDER.search(text):
                problems.append(f"{where}: {section}.{key} is a placeholder, not encrypted; {rotate}")
            else:
                problems.append(f"{where}: {section}.{key} is not encrypted (not ENC[...]); {rotate}")
    for key in keys:
        if key not in values:
            problems.append(f"{where}: key {key!r} that a consumer references is absent; {rotate}")
    problems.extend(_placeholders_in_plaintext(doc, where, rotate))
    return problems


def _recipient_problems(doc: Mapping, path: Path, where: str) -> list[str]:
    """The file must be readable with every key .sops.yaml names, or Flux (holding one of them) fails."""
    config_path = sops.find_config(path.parent)
    if config_path is None:
        return []
    try:
        rule = sops.creation_rule(sops.load_config(config_path), config_path, path)
    except sops.SopsError:
        return []  # a broken .sops.yaml does not change what this file can be decrypted with
    if rule is None:
        return []
    have = sops.file_age_recipients(doc)
    missing = [r for r in sops.rule_age_recipients(rule) if r not in have]
    if not missing:
        return []
    return [
        f"{where}: encrypted for {', '.join(have) or 'no age recipient'} but {display_path(config_path)} asks for "
        f"{', '.join(missing)} too, so a cluster holding that key cannot decrypt it; run "
        "`homelab-ai secrets update-keys`"
    ]


def _placeholders_in_plaintext(doc: Mapping, where: str, rotate: str) -> list[str]:
    """Placeholders left in the unencrypted parts (metadata, annotations, key names)."""
    found: list[str] = []

    def walk(node: object, trail: str, is_value_block: bool = False) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if trail == "" and key == "sops":
                    continue
                if _PLACEHOLDER_IN_PLAINTEXT.search(str(key)):
                    found.append(f"{where}: key name {trail.lstrip('.')}.{key} looks like a placeholder; {rotate}")
                if is_value_block:
                    continue  # values of data/stringData are checked (and reported) above
                walk(value, f"{trail}.{key}", trail == "" and key in ("data", "stringData"))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{trail}[{index}]")
        elif isinstance(node, str) and not _ENCRYPTED.match(node) and _PLACEHOLDER_IN_PLAINTEXT.search(node):
            found.append(f"{where}: {trail.lstrip('.')} still looks like a placeholder ({node!r}); {rotate}")

    walk(doc, "")
    return found


def plaintext_secret_problems(root: Construct) -> list[str]:
    """A Secret rendered by a chart would reach ``dist/`` in plaintext: only SopsSecret may carry one."""
    problems = []
    for construct in root.node.find_all():
        if isinstance(construct, cdk8s.ApiObject) and construct.kind == "Secret":
            problems.append(
                f"{construct.node.path}: Secret {construct.name!r} would be written to dist/ in plaintext; declare "
                f"it as a SopsSecret (e.g. file apps/secrets/{construct.name}.sops.yaml) and run "
                "`homelab-ai secrets init`"
            )
    return problems


def sops_secrets(root: Construct) -> list[SopsSecret]:
    """Every SopsSecret under ``root`` (an App or a Chart), in tree order."""
    return [c for c in root.node.find_all() if isinstance(c, SopsSecret)]
