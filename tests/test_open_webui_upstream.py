"""Open WebUI's contract against the pinned release's own source (the open-webui wheel from PyPI).

Every env var the chart sets on Open WebUI is read by that release, at the lines its row cites;
the rows say exactly which of them seed database-backed settings; and with
ENABLE_PERSISTENT_CONFIG=False that release takes those settings from the environment on every
start and stores none of them, so a rotated password or a changed URL arrives with a restart.
"""

from __future__ import annotations

import re

import pytest

from homelab_ai.base.contract import KnobKind
from homelab_ai.services.open_webui.contract import CONFIG, ENV, OPEN_WEBUI_CONTRACT, VERSION
from homelab_ai.services.stable_diffusion.contract import SD_CONTRACT
from tests.contract_checks import containers, dist_objects
from tests.upstream_wheels import (
    cited_lines,
    default_config_keys,
    env_reads,
    env_sources_of_names,
    method_source,
    read,
    wheel,
)

# backend/open_webui/... in the repository is open_webui/... in the wheel.
WHEEL_PATHS = {CONFIG: "open_webui/config.py", ENV: "open_webui/env.py"}
MODELS_CONFIG = "open_webui/models/config.py"


@pytest.fixture(scope="module")
def source() -> dict[str, str]:
    path = wheel("open-webui", VERSION)
    members = [*WHEEL_PATHS.values(), MODELS_CONFIG, "open_webui/main.py", "open_webui/routers/images.py"]
    return {member: read(path, member) for member in members}


@pytest.fixture(scope="module")
def chart_env() -> dict[str, dict]:
    """The env of the open-webui container in dist/, by name."""
    for _, _, c in containers(dist_objects()):
        if c["name"] == "open-webui":
            return {e["name"]: e for e in c["env"]}
    raise AssertionError("no open-webui container in dist/")


def _rows_read_by_open_webui():
    return [k for k in OPEN_WEBUI_CONTRACT.knobs if k.kind is KnobKind.ENV and k.source.path in WHEEL_PATHS]


def test_the_pinned_image_and_the_wheel_are_the_same_release():
    assert OPEN_WEBUI_CONTRACT.image.tag == f"v{VERSION}" == "v0.12.4"


def test_every_env_var_the_chart_sets_is_read_by_that_release_or_its_row_says_who_reads_it(source, chart_env):
    reads = {**env_reads(source[WHEEL_PATHS[ENV]]), **env_reads(source[WHEEL_PATHS[CONFIG]])}
    assert {k.name for k in _rows_read_by_open_webui()} <= set(reads)
    not_read = set(chart_env) - set(reads)
    rows = {k.name: k.source for k in OPEN_WEBUI_CONTRACT.knobs if k.name in not_read}
    # Not Open WebUI settings: the pod's HOME (the image's), and the password Kubernetes expands into
    # AUTOMATIC1111_API_AUTH.
    assert {name: (s.repo, s.path) for name, s in rows.items()} == {
        "HOME": ("open-webui/open-webui", "Dockerfile"),
        "AUTOMATIC1111_API_PASSWORD": ("kubernetes/api", "core/v1/types.go"),
    }


@pytest.mark.parametrize("knob", _rows_read_by_open_webui(), ids=lambda k: k.name)
def test_each_row_cites_a_line_where_that_release_reads_its_env_var(source, knob):
    lines = source[WHEEL_PATHS[knob.source.path]].splitlines()
    cited = cited_lines(knob.source.lines)
    assert cited, f"{knob.name}: no line cited"
    assert any(f"'{knob.name}'" in lines[n - 1] for n in cited if n <= len(lines)), (
        f"{knob.name} is not read at {knob.source.path}#{knob.source.lines} in open-webui {VERSION}"
    )


def test_the_rows_name_exactly_the_database_backed_settings_each_chart_env_var_seeds(source, chart_env):
    config = source[WHEEL_PATHS[CONFIG]]
    derived = env_sources_of_names([source[WHEEL_PATHS[ENV]], config])
    seeds: dict[str, set[str]] = {}
    for key, name in default_config_keys(config).items():
        for env in derived.get(name, ()):
            seeds.setdefault(env, set()).add(key)
    from_source = {name: sorted(seeds.get(name, ())) for name in chart_env}
    from_rows = {k.name: sorted(k.database_keys) for k in OPEN_WEBUI_CONTRACT.knobs if k.name in chart_env}
    assert from_rows == from_source
    assert sorted(n for n, keys in from_rows.items() if keys) == [
        "AUTOMATIC1111_API_AUTH",
        "AUTOMATIC1111_BASE_URL",
        "ENABLE_IMAGE_GENERATION",
        "IMAGE_GENERATION_ENGINE",
        "OLLAMA_BASE_URL",
    ]


def test_the_chart_turns_persistent_config_off_and_that_release_reads_the_switch_so(source, chart_env):
    assert chart_env["ENABLE_PERSISTENT_CONFIG"]["value"] == "False"
    config = source[WHEEL_PATHS[CONFIG]]
    assert "ENABLE_PERSISTENT_CONFIG = os.getenv('ENABLE_PERSISTENT_CONFIG', 'True').lower() == 'true'" in config
    assert re.search(r"Config\.configure\([^)]*enable_persistent=ENABLE_PERSISTENT_CONFIG", config)
    assert chart_env["ENABLE_PERSISTENT_CONFIG"]["value"].lower() != "true"


def test_with_persistence_off_no_setting_is_read_from_or_seeded_into_the_database(source):
    models = source[MODELS_CONFIG]
    assert method_source(models, "Config", "persistent_enabled_for").startswith(
        "if not cls.PERSISTENT_ENABLED:\n    return False"
    )
    assert method_source(models, "Config", "get").startswith(
        "if not Config.persistent_enabled_for(key):\n    return Config.default_value(key, default)"
    )
    assert "if not Config.persistent_enabled_for(key):\n            continue" in method_source(
        models, "Config", "seed_defaults"
    )


def test_with_persistence_off_an_admin_page_change_stays_in_memory_until_the_next_restart(source):
    upsert = method_source(source[MODELS_CONFIG], "Config", "upsert")
    assert "if Config.persistent_enabled_for(key):\n        persistent_updates[key] = value\n    else:\n" in upsert
    assert "Config.DEFAULTS[key] = value" in upsert
    assert "if not persistent_updates:\n    return" in upsert


def test_every_automatic1111_path_that_release_calls_is_in_the_stable_diffusion_contract(source):
    calls = set(re.findall(r"AUTOMATIC1111_BASE_URL\}(/sdapi/v1/[a-z0-9-]+)", source["open_webui/routers/images.py"]))
    assert calls == {"/sdapi/v1/options", "/sdapi/v1/sd-models", "/sdapi/v1/txt2img"}
    listed = {name.split(" ", 1)[1] for name in SD_CONTRACT.named(KnobKind.API_PATH)}
    assert calls <= listed


def test_that_release_serves_the_probe_paths_the_chart_uses(source):
    main = source["open_webui/main.py"]
    probes = {name.split(" ", 1)[1] for name in OPEN_WEBUI_CONTRACT.named(KnobKind.API_PATH)}
    assert probes == {"/health", "/ready"}
    assert all(f"@app.get('{path}')" in main for path in probes)


@pytest.mark.slow
def test_without_pypi_the_check_fails_and_says_why_instead_of_skipping(tmp_path, monkeypatch):
    monkeypatch.setattr("tests.upstream_wheels.CACHE", tmp_path)
    # A closed port on loopback for the index, nothing else pip could use.
    for name, value in {
        "PIP_CONFIG_FILE": "/dev/null",
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
        "PIP_EXTRA_INDEX_URL": "",
        "PIP_FIND_LINKS": "",
        "PIP_RETRIES": "0",
        "PIP_TIMEOUT": "2",
        "PIP_NO_CACHE_DIR": "1",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(pytest.fail.Exception) as failure:
        wheel("open-webui", VERSION)
    message = str(failure.value)
    assert message.startswith(f"could not download open-webui=={VERSION} from PyPI into {tmp_path}")
    assert "Fix: give this machine access to PyPI" in message
