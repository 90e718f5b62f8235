"""Common homelab GPUs and the VRAM on their data sheets, to catch a mistyped ``vram_gib``.

A name matches only exactly (ignoring case and repeated whitespace): a near miss must not pin the
wrong size on a card. Models sold with more than one VRAM size (RTX 3060, 3080, 4060 Ti, A2000,
Tesla M40/P100/V100) are listed only under a name that carries the size, or not at all.
"""

from __future__ import annotations

import attrs

from homelab_ai.base.validators import typed_fields


@attrs.frozen(field_transformer=typed_fields)
class KnownCard:
    """A card's official name, the names nvidia-smi or vendors also use, and its VRAM in GiB."""

    name: str
    vram_gib: float
    aliases: tuple[str, ...] = ()


KNOWN_CARDS: tuple[KnownCard, ...] = (
    # GeForce
    KnownCard("NVIDIA GeForce GTX 1080 Ti", 11),
    KnownCard("NVIDIA GeForce RTX 2080 Ti", 11),
    KnownCard("NVIDIA TITAN RTX", 24),
    KnownCard("NVIDIA GeForce RTX 3060 Ti", 8),
    KnownCard("NVIDIA GeForce RTX 3070", 8),
    KnownCard("NVIDIA GeForce RTX 3090", 24),
    KnownCard("NVIDIA GeForce RTX 3090 Ti", 24),
    KnownCard("NVIDIA GeForce RTX 4070", 12),
    KnownCard("NVIDIA GeForce RTX 4070 SUPER", 12),
    KnownCard("NVIDIA GeForce RTX 4070 Ti", 12),
    KnownCard("NVIDIA GeForce RTX 4070 Ti SUPER", 16),
    KnownCard("NVIDIA GeForce RTX 4080", 16),
    KnownCard("NVIDIA GeForce RTX 4080 SUPER", 16),
    KnownCard("NVIDIA GeForce RTX 4090", 24),
    KnownCard("NVIDIA GeForce RTX 5070", 12),
    KnownCard("NVIDIA GeForce RTX 5070 Ti", 16),
    KnownCard("NVIDIA GeForce RTX 5080", 16),
    KnownCard("NVIDIA GeForce RTX 5090", 32),
    # Workstation
    KnownCard("NVIDIA Quadro P2000", 5, aliases=("Quadro P2000",)),
    KnownCard("NVIDIA Quadro P4000", 8, aliases=("Quadro P4000",)),
    KnownCard("NVIDIA RTX A2000 12GB", 12),
    KnownCard("NVIDIA RTX A4000", 16),
    KnownCard("NVIDIA RTX A4500", 20),
    KnownCard("NVIDIA RTX A5000", 24),
    KnownCard("NVIDIA RTX A6000", 48),
    KnownCard("NVIDIA RTX 2000 Ada Generation", 16),
    KnownCard("NVIDIA RTX 4000 SFF Ada Generation", 20),
    KnownCard("NVIDIA RTX 4000 Ada Generation", 20),
    KnownCard("NVIDIA RTX 4500 Ada Generation", 24),
    KnownCard("NVIDIA RTX 5000 Ada Generation", 32),
    KnownCard("NVIDIA RTX 6000 Ada Generation", 48),
    # Data center cards that end up in homelabs
    KnownCard("NVIDIA Tesla P4", 8, aliases=("Tesla P4",)),
    KnownCard("NVIDIA Tesla P40", 24, aliases=("Tesla P40",)),
    KnownCard("NVIDIA Tesla T4", 16, aliases=("Tesla T4", "NVIDIA T4")),
    KnownCard("NVIDIA A2", 16),
    KnownCard("NVIDIA L4", 24),
)


def normalize(name: str) -> str:
    """Case and whitespace do not make a different card."""
    return " ".join(name.split()).casefold()


_BY_NAME: dict[str, KnownCard] = {normalize(name): card for card in KNOWN_CARDS for name in (card.name, *card.aliases)}


def known_card(name: str) -> KnownCard | None:
    """The card called exactly ``name`` (case and whitespace aside), or None."""
    return _BY_NAME.get(normalize(name))
