"""The validators every props class uses: each accepts the edge of what is valid, refuses just past it,
and its error names the field, the value and the fix (tests/test_bad_input.py shows them on real props).
"""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from homelab_ai.base import validators as v
from homelab_ai.base.errors import HomelabConfigError


def check(validator, value):
    """Run ``validator`` as attrs would for the field ``Demo.knob``."""

    @attrs.frozen
    class Demo:
        knob: object = attrs.field(validator=validator)

    return Demo(value)


def refused(validator, value) -> HomelabConfigError:
    with pytest.raises(HomelabConfigError) as caught:
        check(validator, value)
    assert caught.value.field == "Demo.knob"
    return caught.value


CASES = {
    v.dns1123_label: (
        ["a", "open-webui", "a" * 63, "0day", "x-1"],
        ["", "a" * 64, "Open", "-a", "a-", "a_b", "a.b", 7, None],
        "is not a DNS-1123 label",
        "use lower-case letters, digits and '-', start and end with a letter or digit, at most 63 characters "
        "(e.g. 'open-webui')",
    ),
    v.dns1123_subdomain: (
        ["a", "longhorn-retain", "a.b-c.d", "a" * 253],
        ["", "a" * 254, "A.b", "a..b", "-a", "a.", 3],
        "is not a DNS-1123 subdomain",
        "use lower-case letters, digits, '-' and '.', at most 253 characters",
    ),
    v.ipv4: (
        ["10.10.2.25", "0.0.0.0", "255.255.255.255"],
        ["10.10.2.256", "10.10.2.0/24", "host", "", None, "::1"],
        "is not an IPv4 address",
        "give a dotted-quad address from your load-balancer pool, e.g. '10.10.2.25'",
    ),
    v.port: (
        [1, 80, 65535],
        [0, 65536, -1, True, 80.0, "80", None],
        "is not a TCP port",
        "use an integer between 1 and 65535",
    ),
    v.positive: (
        [1, 0.001, 24],
        [0, -1, -0.5, True, "1", None, float("nan"), float("inf")],
        "must be a finite number greater than zero",
        "give a positive number (not NaN or infinity)",
    ),
    v.non_negative: (
        [0, 0.0, 1.5],
        [-0.001, -1, False, "0", None, float("nan"), float("-inf")],
        "must be a finite number of zero or more",
        "give 0 or a positive number (not NaN or infinity)",
    ),
    v.positive_duration: (
        [timedelta(seconds=1), timedelta(minutes=5)],
        [timedelta(0), timedelta(seconds=-1), timedelta(seconds=1.5), 60, None],
        "must be a positive datetime.timedelta of whole seconds",
        "pass e.g. timedelta(minutes=5)",
    ),
    v.env_name: (
        ["A", "_x", "OLLAMA_HOST", "a1"],
        ["", "1A", "A-B", "A B", None],
        "is not a valid environment variable name",
        "use letters, digits and '_', not starting with a digit",
    ),
    v.secret_key: (
        ["password", "a.b_c-D9", "x" * 253],
        ["", "x" * 254, "a b", "a/b", None, 5],
        "is not a valid Secret key",
        "use letters, digits, '-', '_' and '.'",
    ),
    v.absolute_path: (
        ["/", "/app/backend/data", "/a"],
        ["app", "/app/", "//", "", None],
        "is not an absolute path",
        "start it with '/' and drop any trailing '/', e.g. '/app/backend/data'",
    ),
    v.http_url: (
        ["http://x", "https://huggingface.co/r/resolve/main/f.safetensors"],
        ["ftp://x/y", "https://", "http://a b", "huggingface.co/x", "", None, 42],
        "is not an http(s) URL",
        "give a full URL such as 'https://huggingface.co/<repo>/resolve/main/<file>'",
    ),
    v.sha256_hex: (
        ["a" * 64, "A" * 64, "0123456789abcdef" * 4],
        ["a" * 63, "a" * 65, "g" * 64, "", None],
        "is not a sha256 digest",
        "give the file's 64 hex character sha256 (e.g. from `sha256sum FILE` or the download page)",
    ),
    v.plain_file_name: (
        ["model.safetensors", "a", "x+y_z-1.0", "a" * 200],
        ["a" * 201, ".hidden", "a/b", "a b", "", None],
        "is not a plain file name",
        "use letters, digits, '.', '_', '+' and '-', starting with a letter or digit and without '/' "
        "(e.g. 'sd_xl_base_1.0.safetensors')",
    ),
    v.ollama_model_name: (
        ["llama3.2", "qwen2.5:14b", "library/llama3.2:3b", "hf.co/user/repo:Q4_K_M", "a" * 250],
        ["a" * 251, "a/b/c/d", ":tag", "x:", "a b", "", None, "x:-tag"],
        "is not an Ollama model name",
        "use the name `ollama pull` takes, e.g. 'llama3.2', 'qwen2.5:14b' or 'library/llama3.2:3b'",
    ),
    v.cron: (
        ["0 3 * * *", "*/15 0-23 1,15 1-12 0", "59 23 31 12 7", "0 0 1 1 0", "*/90 * * * *"],
        [
            "60 3 * * *",
            "0 24 * * *",
            "0 0 0 * *",
            "0 0 32 * *",
            "0 0 * 13 *",
            "0 0 * 0 *",
            "0 0 * * 8",
            "0 3 * *",
            "0 3 * * * *",
            "@daily",
            "a b c d e",
            5,
        ],
        "is not a five-field cron schedule",
        "use 'minute hour day-of-month month day-of-week' with numbers, '*', ranges, lists and steps, "
        "e.g. '0 3 * * *' for daily at 03:00",
    ),
    v.cidr: (
        ["10.0.0.0/8", "192.168.1.0/24", "0.0.0.0/0"],
        ["10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/x", "fd00::/8", None],
        "is not an IPv4 network in CIDR form",
        "give a network address with its prefix length, e.g. '10.0.0.0/8' (host bits zero)",
    ),
}


@pytest.mark.parametrize(
    ("validator", "value"), [(val, good) for val, (goods, *_rest) in CASES.items() for good in goods]
)
def test_valid_values_pass(validator, value):
    assert check(validator, value).knob == value


@pytest.mark.parametrize(
    ("validator", "value"), [(val, bad) for val, (_goods, bads, *_rest) in CASES.items() for bad in bads]
)
def test_invalid_values_are_refused_naming_the_field_the_value_and_the_fix(validator, value):
    _goods, _bads, problem, fix = CASES[validator]
    error = refused(validator, value)
    assert error.problem == f"{value!r} {problem}"
    assert error.fix == fix
    assert str(error) == f"Demo.knob: {value!r} {problem}. Fix: {fix}"


def test_env_mapping_checks_every_key():
    assert check(v.env_mapping, {"A": "1", "_B": "2"}).knob == {"A": "1", "_B": "2"}
    error = refused(v.env_mapping, {"GOOD": "1", "1BAD": "2"})
    assert error.problem == "'1BAD' is not a valid environment variable name"
    assert error.fix == "use letters, digits and '_', not starting with a digit"
    assert refused(v.env_mapping, {3: "x"}).problem == "3 is not a valid environment variable name"


def test_matches_takes_the_whole_string_and_tells_the_fix_given():
    rule = v.matches(r"[0-9]+m", "give minutes like '5m'")
    assert check(rule, "15m").knob == "15m"
    error = refused(rule, "15m extra")
    assert (error.problem, error.fix) == ("'15m extra' is not allowed here", "give minutes like '5m'")
    assert refused(rule, 15).problem == "15 is not allowed here"


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("app", "x", None),
        ("app.kubernetes.io/name", "open-webui", None),
        ("a" * 63, "b" * 63, None),
        ("app", "", None),
        ("example.com/" + "a" * 63, "x", None),
        ("a" * 253 + "/app", "x", None),
        (1, "x", "1: 'x' is not a pair of strings"),
        ("app", 1, "'app': 1 is not a pair of strings"),
        ("Bad_Prefix/app", "x", "label key 'Bad_Prefix/app' has a prefix that is not a DNS-1123 subdomain"),
        ("a" * 254 + "/app", "x", f"label key '{'a' * 254}/app' has a prefix that is not a DNS-1123 subdomain"),
        ("example.com/", "x", "label key 'example.com/' is not a valid label name"),
        ("a" * 64, "x", f"label key '{'a' * 64}' is not a valid label name"),
        ("-app", "x", "label key '-app' is not a valid label name"),
        ("app", "b" * 64, f"label value '{'b' * 64}' (of 'app') is not a valid label value"),
        ("app", "-x", "label value '-x' (of 'app') is not a valid label value"),
    ],
)
def test_label_problem_names_what_is_wrong(key, value, problem):
    assert v.label_problem(key, value) == problem


def test_label_mapping_refuses_an_empty_selector():
    error = refused(v.label_mapping, {})
    assert error.problem == "no labels given: an empty selector would select every pod"
    assert error.fix == "give the labels of the pods you mean, e.g. {'app.kubernetes.io/name': 'open-webui'}"


def test_label_mapping_refuses_a_bad_label_with_its_problem():
    assert check(v.label_mapping, {"app": "x", "tier": "web"}).knob == {"app": "x", "tier": "web"}
    error = refused(v.label_mapping, {"app": "x", "tier": "-web"})
    assert error.problem == "label value '-web' (of 'tier') is not a valid label value"
    assert error.fix == "keys are [prefix/]name with name <= 63 of letters, digits, '-', '_', '.'; values likewise"


def test_whole_number_takes_the_edges_and_refuses_past_them():
    rule = v.whole_number(1, 10)
    assert [check(rule, n).knob for n in (1, 10)] == [1, 10]
    for bad in (0, 11, 1.0, True, "3"):
        error = refused(rule, bad)
        assert error.problem == f"{bad!r} is not a whole number between 1 and 10"
        assert error.fix == "give an integer between 1 and 10"


def test_whole_number_without_a_maximum():
    rule = v.whole_number(0)
    assert check(rule, 10**9).knob == 10**9
    error = refused(rule, -1)
    assert (error.problem, error.fix) == ("-1 is not a whole number of 0 or more", "give an integer of 0 or more")


def test_ports_checks_each_port_and_refuses_duplicates():
    assert check(v.ports, (80, 443)).knob == (80, 443)
    assert refused(v.ports, (80, 0)).problem == "0 is not a TCP port"
    error = refused(v.ports, (80, 443, 80))
    assert (error.problem, error.fix) == ("(80, 443, 80) lists a port twice", "list each once")


def test_field_name_is_class_dot_attribute():
    @attrs.frozen
    class Props:
        size: int

    assert v.field_name(Props(1), attrs.fields(Props).size) == "Props.size"


def test_duration_between_takes_both_edges_and_refuses_past_them():
    from datetime import timedelta as td

    rule = v.duration_between(td(seconds=10), td(minutes=2))
    assert [check(rule, d).knob for d in (td(seconds=10), td(minutes=2))] == [td(seconds=10), td(minutes=2)]
    for bad in (td(seconds=9), td(seconds=121), td(seconds=30.5), 30):
        error = refused(rule, bad)
        assert error.problem == f"{bad!r} is not a timedelta of whole seconds from 0:00:10 to 0:02:00"
        assert error.fix == "pass e.g. timedelta(minutes=2), at least 0:00:10 and at most 0:02:00"


# Host names, certificate names, sites, words --------------------------------------------------------

HOST_FIX = (
    "give the one name people type, in lower case with its domain, e.g. 'chat.home.example.com' "
    "(an app has one host name; a wildcard would send every name to it)"
)
LABEL_63 = "a" * 63


@pytest.mark.parametrize(
    "name", ["chat.home.example.com", "a.b", f"{LABEL_63}.example.com", ".".join([LABEL_63] * 3 + ["a" * 61])]
)
def test_a_fully_qualified_host_name_is_accepted(name):
    assert len(name) <= 253
    assert check(v.host_name, name).knob == name


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "'' is not a host name"),
        (5, "5 is not a host name"),
        (None, "None is not a host name"),
        ("*.example.com", "'*.example.com' is a wildcard, not one host"),
        (
            "Chat.example.com",
            "'Chat.example.com' is not a DNS-1123 name (lower-case letters, digits, '-' and '.', "
            "at most 253 characters)",
        ),
        (
            "chat.example.com:443",
            "'chat.example.com:443' is not a DNS-1123 name (lower-case letters, digits, '-' "
            "and '.', at most 253 characters)",
        ),
        (f"{'a' * 64}.example.com", f"'{'a' * 64}.example.com' has a label longer than 63 characters"),
        ("localhost", "'localhost' is a single label; certificates and DNS records need a fully qualified name"),
    ],
)
def test_a_host_name_that_is_not_one_fully_qualified_name_is_refused_with_why(value, problem):
    error = refused(v.host_name, value)
    assert (error.problem, error.fix) == (problem, HOST_FIX)


def test_a_host_name_longer_than_253_characters_is_refused():
    name = ".".join([LABEL_63] * 3 + ["a" * 62])  # 254 characters, every label within 63
    assert len(name) == 254
    assert refused(v.host_name, name).problem.endswith(
        "is not a DNS-1123 name (lower-case letters, digits, '-' and '.', at most 253 characters)"
    )


CERTIFICATE_FIX = (
    "list the names the certificate holds: host names, or '*.' followed by a domain of two labels or more "
    "(e.g. '*.home.example.com', which covers 'chat.home.example.com' but not 'home.example.com')"
)


@pytest.mark.parametrize("name", ["chat.home.example.com", "*.home.example.com", "*.example.com"])
def test_a_certificate_holds_host_names_and_leftmost_wildcards(name):
    assert check(v.certificate_name, name).knob == name


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("*.com", "'*.com' would cover a whole top-level domain"),
        ("*.*.example.com", "'*.*.example.com' has a wildcard that is not the whole leftmost label of a domain"),
        ("a.*.example.com", "'a.*.example.com' has a wildcard that is not the whole leftmost label of a domain"),
        ("*example.com", "'*example.com' has a wildcard that is not the whole leftmost label of a domain"),
        ("*", "'*' has a wildcard that is not the whole leftmost label of a domain"),
        (
            "*.Example.com",
            "'Example.com' is not a DNS-1123 name (lower-case letters, digits, '-' and '.', at most 253 characters)",
        ),
        ("example", "'example' is a single label; certificates and DNS records need a fully qualified name"),
        (7, "7 is not a host name"),
    ],
)
def test_a_name_no_certificate_can_hold_is_refused_with_why(value, problem):
    error = refused(v.certificate_name, value)
    assert (error.problem, error.fix) == (problem, CERTIFICATE_FIX)


@pytest.mark.parametrize(
    ("names", "host", "covered"),
    [
        (("chat.example.com",), "chat.example.com", True),
        (("other.example.com", "*.example.com"), "chat.example.com", True),
        (("*.example.com",), "example.com", False),
        (("*.example.com",), "a.chat.example.com", False),
        (("*.example.com",), "chatexample.com", False),
        (("*.com",), "localhost", False),
        (("example.com",), "chat.example.com", False),
        ((), "chat.example.com", False),
    ],
)
def test_a_certificate_covers_its_names_and_one_label_under_a_wildcard(names, host, covered):
    assert v.certificate_covers(names, host) is covered


def test_host_names_need_one_at_least_each_valid_and_once():
    assert check(v.host_names, ("a.example.com", "b.example.com")).knob == ("a.example.com", "b.example.com")
    empty = refused(v.host_names, ())
    assert (empty.problem, empty.fix) == ("no host name given", "give at least one")
    assert refused(v.host_names, ("a.example.com", "b")).problem == (
        "'b' is a single label; certificates and DNS records need a fully qualified name"
    )
    twice = refused(v.host_names, ("a.example.com", "a.example.com"))
    assert (twice.problem, twice.fix) == ("('a.example.com', 'a.example.com') lists a name twice", "list each once")


@pytest.mark.parametrize("site", ["https://chat.home.example.com", "https://chat.home.example.com/"])
def test_an_https_site_is_a_scheme_and_one_host(site):
    assert check(v.https_site, site).knob == site


@pytest.mark.parametrize(
    "site",
    [
        "http://chat.example.com",
        "https://chat.example.com/app",
        "https://chat.example.com?x=1",
        "https://chat.example.com/#top",
        "https://chat.example.com:8443",
        "https://user@chat.example.com",
        "https://Chat.example.com",
        "https://chat",
        "https://*.example.com",
        " https://chat.example.com",
        "https://chat.example.com\n",
        "chat.example.com",
        "https://",
        5,
    ],
)
def test_an_https_site_with_anything_but_one_host_is_refused(site):
    error = refused(v.https_site, site)
    assert error.problem == f"{site!r} is not an https:// address of one host"
    assert error.fix == "give the address people open, e.g. 'https://chat.home.example.com' (no path, no port)"


WORD_FIX = "use a name without spaces, commas, semicolons, quotes or '=' (it is written into a list setting)"


@pytest.mark.parametrize("value", ["admin", "a-b.c_d", "groups:ai", "x"])
def test_a_word_is_one_name_for_a_list_setting(value):
    assert check(v.word, value).knob == value


@pytest.mark.parametrize("value", ["", "a b", "a,b", "a;b", 'a"b', "a'b", "a=b", "a\tb", 5, None])
def test_a_word_that_would_split_or_quote_a_list_setting_is_refused(value):
    error = refused(v.word, value)
    assert (error.problem, error.fix) == (f"{value!r} is not a single name", WORD_FIX)


def test_words_need_their_minimum_each_a_word_each_once():
    one = v.words(1)
    assert check(one, ("a",)).knob == ("a",)
    assert check(v.words(), ()).knob == ()
    few = refused(one, ())
    assert (few.problem, few.fix) == ("() lists fewer than 1", "list at least one")
    assert refused(v.words(2), ("a",)).problem == "('a',) lists fewer than 2"
    assert refused(one, ("a", "b c")).problem == "'b c' is not a single name"
    twice = refused(one, ("a", "b", "a"))
    assert (twice.problem, twice.fix) == ("('a', 'b', 'a') lists a name twice", "list each once")


def test_a_short_label_is_a_label_of_at_most_its_length():
    rule = v.short_label(5, "with the Job's suffix")
    assert check(rule, "abcde").knob == "abcde"
    long = refused(rule, "abcdef")
    assert (long.problem, long.fix) == (
        "'abcdef' is 6 characters, too long with the Job's suffix",
        "use at most 5 characters",
    )
    assert refused(rule, "Ab").problem == "'Ab' is not a DNS-1123 label"
