"""storage_key_for is key_for's storage key by a native shortcut: same key, or the same
refusal, for every key a request can carry."""

import pytest

import engine
from engine.api.common import key_for, storage_key_for
from engine.errors import DynamoDBError
from tests.api.conftest import make_table

KEYS = [
    {"pk": {"S": "a"}, "sk": {"N": "1"}},
    {"pk": {"S": "a"}, "sk": {"N": "01"}},
    {"pk": {"S": "a"}, "sk": {"N": "1e3"}},
    {"pk": {"S": "a"}, "sk": {"N": "-0.000"}},
    {"pk": {"S": "🙂"}, "sk": {"N": "9.9999999999999999999999999999999999999E+125"}},
    {"pk": {"S": "a"}, "sk": {"N": "1E+126"}},
    {"pk": {"S": "a"}, "sk": {"N": "abc"}},
    {"pk": {"S": ""}, "sk": {"N": "1"}},
    {"pk": {"S": "x" * 2048}, "sk": {"N": "1"}},
    {"pk": {"S": "x" * 2049}, "sk": {"N": "1"}},
    {"pk": {"N": "1"}, "sk": {"N": "1"}},
    {"pk": {"S": "a"}, "sk": {"S": "1"}},
    {"pk": {"S": "a"}},
    {"pk": {"S": "a"}, "other": {"N": "1"}},
    {"pk": {"S": "a"}, "sk": {"N": "1"}, "extra": {"S": "x"}},
    {"pk": {"S": "a"}, "sk": {"N": "1"}, "extra": {"N": "bad"}},
    {"pk": {"S": "a", "N": "1"}, "sk": {"N": "1"}},
    {"pk": {"S": 1}, "sk": {"N": "1"}},
    {"pk": {}, "sk": {"N": "1"}},
    {"pk": None, "sk": {"N": "1"}},
    {},
    [],
    "key",
]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    client = engine.connect(str(tmp_path_factory.mktemp("db")), durability="off")
    make_table(client, "tbl")  # pk S, sk N
    yield client.service.ctx.table("tbl")
    client.close()


def outcome(f, table, key):
    try:
        return "ok", f(table, key)
    except DynamoDBError as exc:
        return type(exc).__name__, exc.message


@pytest.mark.parametrize("key", KEYS, ids=range(len(KEYS)))
def test_the_shortcut_keys_and_refuses_as_key_for_does(table, key):
    expected = outcome(lambda t, k: key_for(t, k)[1], table, key)
    assert outcome(storage_key_for, table, key) == expected
