"""ClientRequestToken memory: entries live ttl_s and expire oldest first, a token's mutex
lives only while requests hold it, and a reused token with other parameters mismatches."""

import threading

import pytest

from engine.table import TokenCache
from engine.table import transact as transact_module


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(transact_module.time, "monotonic", c)
    return c


def test_entries_expire_oldest_first_and_are_found_until_then(clock):
    cache = TokenCache(ttl_s=600)
    for i in range(100):
        cache.remember(f"t{i}", b"fp", i)
        clock.now += 1
    assert cache.lookup("t0", b"fp") == (True, 0)
    assert cache.lookup("t0", b"other") == (True, TokenCache.MISMATCH)
    clock.now += 550  # t0 was remembered 650 s ago, t50 600 s ago, t51 599 s ago
    assert cache.lookup("t51", b"fp") == (True, 51)
    assert cache.lookup("t0", b"fp") == (False, None)
    assert cache.lookup("t50", b"fp") == (True, 50)
    assert len(cache) == 50
    clock.now += 1000
    assert cache.lookup("t99", b"fp") == (False, None)
    assert len(cache) == 0


def test_a_token_remembered_again_expires_from_its_new_moment(clock):
    cache = TokenCache(ttl_s=10)
    cache.remember("a", b"fp", 1)
    clock.now += 5
    cache.remember("b", b"fp", 2)
    cache.remember("a", b"fp", 3)  # now newer than b
    clock.now += 8
    assert cache.lookup("b", b"fp") == (True, 2)
    assert cache.lookup("a", b"fp") == (True, 3)
    clock.now += 3  # b is 11 s old, a 11 s too: both gone, b first
    assert cache.lookup("a", b"fp") == (False, None)
    assert len(cache) == 0


def test_a_tokens_mutex_lives_only_while_held_even_when_the_request_fails():
    cache = TokenCache()
    entered = threading.Event()
    release = threading.Event()
    order = []

    def first():
        with cache.hold("tok"):
            entered.set()
            release.wait(5)
            order.append("first")

    def second():
        entered.wait(5)
        with cache.hold("tok"):
            order.append("second")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    entered.wait(5)
    while cache._inflight.get("tok", [None, 0])[1] < 2:  # the second is waiting
        threading.Event().wait(0.001)
    release.set()
    for t in threads:
        t.join(5)
    assert order == ["first", "second"]
    with pytest.raises(RuntimeError), cache.hold("tok"):
        raise RuntimeError("a cancelled transaction")
    assert cache._inflight == {}
