"""SopsSecret: a Secret that exists only as a SOPS-encrypted manifest in the repo.

The construct never sees a plaintext value. It points at the encrypted file, checks its plaintext
structure (names, keys, SOPS metadata) at synth time, and the synth copies the file into ``dist/``
byte for byte: re-serializing it (as cdk8s ``Include`` does) would break the SOPS MAC.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import attrs
import cdk8s
import yaml
from constructs import Construct

from homelab_ai.construct_validation import Validation
from homelab_ai.validators import dns1123_label, dns1123_subdomain, secret_key

_ENCRYPTED = re.compile(r"^ENC\[AES256_GCM,data:.*,type:\w+\]$", re.DOTALL)
_PLACEHOLDER = re.compile(r"REPLACE|CHANGE[_-]?ME|PLACEHOLDER|TODO|FIXME|<[^>]*>|^x+$|^example", re.IGNORECASE)


@attrs.frozen(frozen=True)
class SecretKeyRef:
    """A reference to one key of one Secret: what consumers put in ``secretKeyRef``."""

    secret_name: str
    key: str


def _keys_tuple(value: Sequence[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class SopsSecretProps:
    """Where the encrypted manifest lives, and which keys it must hold.

    ``generators`` says how ``homelab-ai secrets init`` makes each key's value ("hex32" or
    "password"); keys without one must be provided by hand.
    """

    name: str = attrs.field(validator=dns1123_subdomain)
    file: Path = attrs.field(converter=Path)
    keys: tuple[str, ...] = attrs.field(converter=_keys_tuple, validator=attrs.validators.deep_iterable(secret_key))
    generators: dict[str, str] = attrs.field(factory=dict)
    namespace: str | None = attrs.field(default=None, validator=attrs.validators.optional(dns1123_label))

    @keys.validator
    def _at_least_one(self, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]) -> None:
        if not value:
            from homelab_ai.errors import HomelabConfigError

            raise HomelabConfigError("SopsSecretProps.keys", "no keys declared", "list the keys consumers read")


class SopsSecret(Construct):
    """The Secret ``name``, kept SOPS-encrypted in ``file``; consumers use :meth:`key_ref`."""

    def __init__(self, scope: Construct, id: str, props: SopsSecretProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.node.add_validation(Validation(self.problems))

    @property
    def name(self) -> str:
        return self.props.name

    @property
    def namespace(self) -> str | None:
        return self.props.namespace or cdk8s.Chart.of(self).namespace

    @property
    def file(self) -> Path:
        return self.props.file

    @property
    def output_name(self) -> str:
        """File name in ``dist/``; ``.sops.yaml`` tells readers (and tools) it is encrypted."""
        return f"secret-{self.props.name}.sops.yaml"

    def key_ref(self, key: str) -> SecretKeyRef:
        """Reference one declared key; asking for an undeclared key is a programming error."""
        if key not in self.props.keys:
            from homelab_ai.errors import HomelabConfigError

            raise HomelabConfigError(
                f"SopsSecret({self.props.name}).key_ref",
                f"key {key!r} is not declared (declared: {', '.join(self.props.keys)})",
                f"add {key!r} to SopsSecretProps.keys and re-run `homelab-ai secrets init --rotate {self.props.name}`",
            )
        return SecretKeyRef(secret_name=self.props.name, key=key)

    def problems(self) -> list[str]:
        """What is wrong with the encrypted file, read from its plaintext structure only."""
        return check_sops_file(self.props.file, self.props.name, self.namespace, self.props.keys)


def check_sops_file(path: Path, name: str, namespace: str | None, keys: Sequence[str]) -> list[str]:
    """Structural checks that need no private key: the file is SOPS-encrypted and matches the construct."""
    fix_init = f"run `homelab-ai secrets init` (or `homelab-ai secrets init --rotate {name}`)"
    where = f"SopsSecret {name!r} ({path})"
    if not path.is_file():
        return [f"{where}: file is missing; {fix_init}"]
    try:
        doc = yaml.safe_load(path.read_bytes())
    except yaml.YAMLError as exc:
        return [f"{where}: not valid YAML ({exc.__class__.__name__}); {fix_init}"]
    if not isinstance(doc, dict) or not isinstance(doc.get("sops"), dict):
        return [f"{where}: not SOPS-encrypted (no 'sops' metadata); {fix_init}, never commit it in plaintext"]
    problems: list[str] = []
    if doc.get("kind") != "Secret":
        problems.append(f"{where}: kind is {doc.get('kind')!r}, expected 'Secret'; {fix_init}")
    meta = doc.get("metadata") or {}
    if meta.get("name") != name:
        problems.append(
            f"{where}: metadata.name is {meta.get('name')!r} but the construct declares {name!r}; "
            f"rename one of them or {fix_init}"
        )
    if namespace is not None and meta.get("namespace") != namespace:
        problems.append(
            f"{where}: metadata.namespace is {meta.get('namespace')!r} but the construct declares {namespace!r}; "
            f"{fix_init}"
        )
    values: dict[str, object] = {}
    for section in ("data", "stringData"):
        block = doc.get(section) or {}
        if not isinstance(block, dict):
            problems.append(f"{where}: {section} is not a mapping; {fix_init}")
            continue
        for key, value in block.items():
            values[str(key)] = value
            if not isinstance(value, str) or not _ENCRYPTED.match(value):
                problems.append(f"{where}: {section}.{key} is not encrypted (not ENC[...]); {fix_init}")
    for key in keys:
        if key not in values:
            problems.append(f"{where}: key {key!r} that a consumer references is absent; {fix_init}")
    for key, value in values.items():
        if isinstance(value, str) and not _ENCRYPTED.match(value) and _PLACEHOLDER.search(value):
            problems.append(f"{where}: {key} still looks like a placeholder; {fix_init}")
    problems.extend(_placeholders_in_plaintext(doc, where, fix_init))
    return problems


def _placeholders_in_plaintext(doc: dict, where: str, fix_init: str) -> list[str]:
    """Placeholders left in the unencrypted parts (metadata, annotations, key names)."""
    found: list[str] = []

    def walk(node: object, trail: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if trail == "" and key == "sops":
                    continue
                walk(key, f"{trail}.{key}(key)")
                walk(value, f"{trail}.{key}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{trail}[{index}]")
        elif (
            isinstance(node, str)
            and not _ENCRYPTED.match(node)
            and re.search(r"REPLACE_WITH|CHANGE[_-]?ME|PLACEHOLDER", node, re.IGNORECASE)
        ):
            found.append(f"{where}: {trail.lstrip('.')} still looks like a placeholder ({node!r}); {fix_init}")

    walk(doc, "")
    return found
