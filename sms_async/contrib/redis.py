"""Limits shared by many workers through Redis (``pip install 'sms-async[redis]'``).

Give every worker's client the same limiter objects (same Redis, same key) and
the rate and the concurrency hold for all of them together::

    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from sms_async import AsyncSmsClient
    from sms_async.contrib.redis import RedisConcurrencyLimiter, RedisRateLimiter

    # Timeouts, and no retries of its own: a dead Redis is then seen in one try.
    redis = Redis(
        host="127.0.0.1",
        socket_connect_timeout=1.0,
        socket_timeout=1.0,
        retry=Retry(NoBackoff(), 0),
    )
    client = AsyncSmsClient(
        rate_limit=RedisRateLimiter(redis, "sms:rate", rate=50, burst=5),
        max_concurrency=RedisConcurrencyLimiter(redis, "sms:slots", limit=16),
    )

- ``RedisRateLimiter`` is GCRA (the generic cell rate algorithm) in one Lua
  script: atomic, on Redis's clock (``TIME``), so the workers' clocks do not
  matter. One round trip serves every request of the process that queued up
  while it was on its way: the script grants up to that many at once, each
  exactly as if it had asked alone at that moment.
- ``RedisConcurrencyLimiter`` is a semaphore of leases in a sorted set: a slot
  expires *lease* seconds after it was last renewed, and is renewed while its
  request runs, so a worker that dies never holds a slot for longer than that.
  A slot given back while another request of the same process waits goes to
  that request directly, without a round trip, for up to 0.5 s after it came
  from Redis; then it goes back to Redis, for the other processes. A request
  that starts while others of its process wait for a slot joins them without
  asking Redis.

Each limiter sends its scripts over one connection of its own, made like the
Redis client's (same connection class and settings, no socket timeout) and
used through redis-py's public connection API: calls that come together are
written together and their replies read in order, by a task of the limiter's
own, which closes the connection 30 s after the last call (or at ``drain()``,
or when the event loop shuts down). A request waits on a plain future, never
inside redis-py, for at most ``redis_timeout`` (2 s by default) whatever the
Redis client's own settings, so a frozen Redis (or one behind a dead network)
cannot hold a request, and a cancellation that redis-py swallows
(redis/redis-py#2028, #2551) cannot reach it. A call past ``redis_timeout``
counts as "Redis cannot be reached".

When Redis cannot be reached, ``on_redis_error="fail"`` (the default) raises
``LimiterUnavailableError`` before the request is sent; ``"local"`` falls back
to an in-process limit of the same size (for this process only), logs one
WARNING, and tries Redis again after ``retry_redis_after`` seconds (default 5).
Both limiters take these three options, and ``redis_timeout`` (default 2).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Literal, TypeVar

try:
    from redis.asyncio import ConnectionPool, Redis
    from redis.asyncio.connection import AbstractConnection
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import NoScriptError, RedisError, ResponseError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError as exc:  # the same one-line hint as the other extras
    raise ModuleNotFoundError(
        "sms_async.contrib.redis needs redis-py: pip install 'sms-async[redis]'",
        name=exc.name,
    ) from exc

from .._cancel import Background
from .._checks import integer, seconds
from .._constants import DEFAULT_REDIS_TIMEOUT, DEFAULT_RETRY_REDIS_AFTER, LOGGER_NAME
from .._errors import ConfigurationError, LimiterUnavailableError
from .._limits import LocalConcurrencyLimiter, LocalRateLimiter

__all__ = ["OnRedisError", "RedisConcurrencyLimiter", "RedisRateLimiter"]

logger = logging.getLogger(LOGGER_NAME)

T = TypeVar("T")

#: What a limiter does when Redis cannot be reached.
OnRedisError = Literal["fail", "local"]

#: Failures that mean Redis cannot be reached (what ``on_redis_error`` is about).
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)

#: Longest single BLPOP of a waiting process, seconds: how soon it notices a Redis
#: that froze or went away while it waits (no request asks Redis meanwhile).
_BLOCK = 0.5

#: Seconds after a lease came from Redis during which a slot given back goes
#: straight to a waiting request of the same process (no round trip); after that,
#: the next give-back returns it to Redis, where the other processes' waiting
#: requests are woken.
HANDOFF_WINDOW = 0.5

#: Seconds a limiter keeps its connection (and the task that reads it) after its
#: last call; then it closes the connection (the next call opens a new one).
_LINGER = 30.0

# KEYS[1] the key; ARGV[1] emission interval (us), ARGV[2] burst, ARGV[3] requests
# asking at once (>= 1). Grants the first n of them that conform, each exactly as if it
# had asked alone at this moment: {n, 0}; or {0, microseconds to wait} if none does.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local n = math.min(want, math.floor((now + burst * interval - tat) / interval))
if n < 1 then
  return {0, math.max(1, math.ceil(tat + interval - now - burst * interval))}
end
local new_tat = tat + n * interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX',
           math.ceil((new_tat - now) / 1000) + 1000)
return {n, 0}
"""

# KEYS[1] the sorted set, KEYS[2] its wake-up list; ARGV[1] limit, ARGV[2] lease (s),
# ARGV[3] token. 0 = acquired; else the milliseconds until the earliest lease may expire.
# A failed take drops the wake-up tokens: none of them stands for a free slot any more
# (there is none), and every slot given back from now on pushes a new one.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local lease = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
  local keep = math.ceil(lease * 1000) + 1000
  if redis.call('PTTL', KEYS[1]) < keep then redis.call('PEXPIRE', KEYS[1], keep) end
  return 0
end
redis.call('DEL', KEYS[2])
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, math.ceil((tonumber(first[2]) - now) * 1000))
"""

# KEYS[1] the sorted set, KEYS[2] its wake-up list; ARGV[1] limit, ARGV[2] lease (s),
# ARGV[3] token or '' (no lease: only wake a waiter). Gives the lease back and pushes
# one wake-up token (the list holds at most *limit*). 1 = a lease was given back.
_RELEASE = """
local removed = 1
if ARGV[3] ~= '' then removed = redis.call('ZREM', KEYS[1], ARGV[3]) end
if removed == 1 then
  redis.call('LPUSH', KEYS[2], '1')
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[1]) - 1)
  redis.call('PEXPIRE', KEYS[2], math.ceil(tonumber(ARGV[2]) * 1000) + 1000)
end
return removed
"""

# KEYS[1] the sorted set; ARGV[1] lease (s), ARGV[2..] tokens. Renews every lease of
# one process in one round trip; returns the tokens that were lost (expired).
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local lease = tonumber(ARGV[1])
local lost = {}
for i = 2, #ARGV do
  local expires = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if expires and tonumber(expires) >= now then
    redis.call('ZADD', KEYS[1], 'XX', now + lease, ARGV[i])
  else
    lost[#lost + 1] = ARGV[i]
  end
end
local keep = math.ceil(lease * 1000) + 1000
if redis.call('PTTL', KEYS[1]) < keep then redis.call('PEXPIRE', KEYS[1], keep) end
return lost
"""


class _Fallback:
    """One limiter's ``on_redis_error`` policy, and its work in the background.

    The calls themselves are bounded by ``redis_timeout`` where they are made
    (``_Link``, and ``bounded`` for the ``BLPOP``): neither a frozen Redis nor a
    cancellation swallowed inside redis-py can hold the caller.
    """

    def __init__(self, what: str, on_redis_error: str, retry_after: float, timeout: float) -> None:
        if on_redis_error not in ("fail", "local"):
            raise ConfigurationError("on_redis_error must be 'fail' or 'local'")
        _check_seconds("retry_redis_after", retry_after)
        _check_seconds("redis_timeout", timeout)
        self.what = what
        self.local_mode = on_redis_error == "local"
        self.retry_after = float(retry_after)
        self.timeout = float(timeout)
        self.until = 0.0  # monotonic time until which the local limiter is used
        self.warned = False
        self.background = Background(what)

    @property
    def active(self) -> bool:
        return self.local_mode and time.monotonic() < self.until

    async def bounded(self, work: Awaitable[T], seconds: float) -> T:
        """Await *work* (the ``BLPOP`` of a listener) in a task of its own, for at most *seconds*.

        Raises ``RedisTimeoutError`` past that. If the caller is cancelled, the
        cancellation propagates at once; the abandoned call is cancelled.
        """
        call = asyncio.ensure_future(work)
        try:
            done, _ = await asyncio.wait((call,), timeout=seconds)
        except BaseException:
            self._abandon(call)
            raise
        if not done:
            self._abandon(call)
            raise RedisTimeoutError(f"no answer within {seconds:g} s")
        return call.result()

    def _abandon(self, call: asyncio.Future[T]) -> None:
        call.cancel()
        self.background.adopt(call)

    async def outcome(self, work: Awaitable[T]) -> T | None:
        """Await a Redis call (bounded: a ``_Link`` call); raise, or return ``None`` (go local).

        Only an unreachable Redis (a connection error, or no answer within
        ``redis_timeout``) may go local; any other Redis error (a key of the
        wrong type, a script error) is a misconfiguration and always raises.
        """
        try:
            result = await work
        except _UNREACHABLE as exc:
            if not self.local_mode:
                raise LimiterUnavailableError(
                    f"{self.what}: Redis cannot be reached ({type(exc).__name__}: {exc})"
                ) from exc
            self.until = time.monotonic() + self.retry_after
            if not self.warned:
                self.warned = True
                logger.warning(
                    "%s: Redis cannot be reached (%s); using an in-process limit, "
                    "for this process only, until it can",
                    self.what,
                    type(exc).__name__,
                )
            return None
        except RedisError as exc:
            raise LimiterUnavailableError(
                f"{self.what}: Redis refused the limiter's command ({type(exc).__name__}: {exc})"
            ) from exc
        if self.warned:
            self.warned = False
            logger.info("%s: Redis is reachable again; the shared limit is back", self.what)
        return result


class _Script:
    """A Lua script and its SHA1 (what ``EVALSHA`` names it by)."""

    __slots__ = ("sha", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()


#: Called with the reply (or the error) of a call whose caller is gone.
OnLate = Callable[[Any], None]


class _Call:
    """One script call on a ``_Link``: what to send, and who waits for the reply."""

    __slots__ = ("args", "by_source", "future", "on_late", "repeats", "script", "timer")

    def __init__(
        self, future: asyncio.Future[Any], script: _Script, args: list[Any], on_late: OnLate | None
    ) -> None:
        self.future = future
        self.script = script
        self.args = args  # numkeys, keys..., args...
        self.on_late = on_late
        self.by_source = False  # EVAL instead of EVALSHA (after a NOSCRIPT)
        self.repeats = False  # the same call is made again and again: keep it packed
        self.timer: asyncio.TimerHandle | None = None

    def settle(self, reply: Any) -> None:
        """Give *reply* (a value or an exception) to the caller, or to ``on_late``."""
        if self.timer is not None:
            self.timer.cancel()
        if not self.future.done():
            if isinstance(reply, BaseException):
                self.future.set_exception(reply)
            else:
                self.future.set_result(reply)
        elif self.on_late is not None:
            self.on_late(reply)


class _Link:
    """One limiter's connection for its scripts: calls pipelined, replies read in order.

    The connection is made like the Redis client's own (its pool's connection
    class and settings), without its socket timeout: every call is bounded here.
    It is used through redis-py's public connection API (``connect``,
    ``pack_command``, ``send_packed_command``, ``read_response``,
    ``disconnect``). A task of the link's own (the pump) owns it: it writes
    every call queued since its last write in one go, reads the replies in
    order and hands each to its future. After ``_LINGER`` seconds without a
    call, when stopped (``drain()``), or when the event loop cancels it at
    shutdown, the pump closes the connection and ends; the next call starts a
    new one.

    The caller waits on a plain future: a cancellation reaches it at once and
    never runs inside redis-py. A watchdog fails each call ``timeout`` seconds
    after it was made; if it had been sent, the connection is cut (its replies
    are out of step from then on) and every call on it fails.
    """

    def __init__(self, redis: Redis, what: str, timeout: float) -> None:
        pool = redis.connection_pool
        self._connection_class = pool.connection_class
        self._settings = dict(pool.connection_kwargs)
        self._settings["socket_timeout"] = None  # bounded by the watchdog instead
        self._what = what
        self._timeout = timeout
        self._outbox: list[_Call] = []  # not written yet
        self._inflight: collections.deque[_Call] = collections.deque()  # written, in order
        self._pump: asyncio.Task[None] | None = None
        self._bell: asyncio.Future[None] | None = None  # the idle pump waits on it
        self._cutting = False
        self._stopping = False
        # Calls that repeat (a rate limiter's), as sent, by their arguments.
        self._packed: dict[tuple[Any, ...], list[bytes]] = {}

    def run(
        self,
        script: _Script,
        keys: Sequence[str],
        args: Sequence[Any],
        on_late: OnLate | None = None,
        repeats: bool = False,
    ) -> asyncio.Future[Any]:
        """Queue one script call; its future has the reply (or a Redis error) within ``timeout``.

        *on_late* gets the reply (or the error) of a call whose future was
        cancelled or timed out meanwhile, if the call was sent. A call that
        *repeats* (the same arguments again and again) is packed once.
        """
        loop = asyncio.get_running_loop()
        call = _Call(loop.create_future(), script, [len(keys), *keys, *args], on_late)
        call.repeats = repeats
        call.timer = loop.call_later(self._timeout, self._expire, call)
        self._stopping = False
        if self._pump is not None and self._pump.get_loop() is not loop:
            self._abandon_loop()  # a pump left behind by an event loop that is gone
        self._outbox.append(call)
        if self._pump is None:
            self._pump = loop.create_task(self._run())
        else:
            self._ring()
        return call.future

    async def stop(self) -> None:
        """Let the pump finish what was sent, close the connection and end."""
        pump = self._pump
        if pump is None:
            return
        self._stopping = True
        self._ring()
        await asyncio.wait((pump,), timeout=self._timeout)

    def _abandon_loop(self) -> None:
        self._pump = None
        self._bell = None
        self._cutting = False
        self._outbox = []
        self._inflight = collections.deque()

    def _ring(self) -> None:
        if self._bell is not None and not self._bell.done():
            self._bell.set_result(None)

    def _expire(self, call: _Call) -> None:
        if call.future.done():
            return
        call.future.set_exception(
            RedisTimeoutError(f"no answer within redis_timeout={self._timeout:g} s")
        )
        # The pump is stuck (on a reply, a write or a connect): cut its connection.
        pump = self._pump
        if pump is not None and not self._cutting and self._bell is None:
            self._cutting = True
            pump.cancel()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        connection: AbstractConnection | None = None
        try:
            while True:
                if not self._outbox and not self._inflight:
                    if self._stopping:
                        return
                    self._bell = bell = loop.create_future()
                    timer = loop.call_later(_LINGER, self._ring)
                    try:
                        await bell
                    finally:
                        timer.cancel()
                        self._bell = None
                    if not self._outbox:
                        return  # idle for _LINGER, or asked to stop
                try:
                    if connection is None:
                        connection = self._connection_class(**self._settings)
                        await connection.connect()  # type: ignore[no-untyped-call]  # unannotated
                    if self._outbox:
                        await self._write(connection)
                    if self._inflight:
                        try:
                            reply = await connection.read_response()
                        except ResponseError as exc:  # an error reply: the connection is fine
                            reply = exc
                        self._settle(self._inflight.popleft(), reply)
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    # Not the watchdog's cut, or cancelled from outside as well: end.
                    if not self._cutting or task is None or task.uncancel() > 0:
                        raise
                    self._cutting = False
                    self._fail(RedisTimeoutError("the connection was cut: a call had no answer"))
                    await self._drop(connection)
                    connection = None
                except (RedisError, OSError) as exc:  # the connection failed
                    self._fail(exc)
                    await self._drop(connection)
                    connection = None
        finally:
            # From here on, a new call starts a new pump.
            self._pump = None
            self._cutting = False
            self._fail(RedisConnectionError("the limiter's connection was closed"))
            await self._drop(connection, nowait=False)  # closed before the loop may close

    async def _write(self, connection: AbstractConnection) -> None:
        # Calls whose caller left before they were sent: nothing to send, nothing to undo.
        batch = [call for call in self._outbox if not call.future.done()]
        self._outbox.clear()
        if not batch:
            return
        commands = [self._pack(connection, call) for call in batch]
        self._inflight.extend(batch)  # before the write: a failed write fails them too
        await connection.send_packed_command(
            [part for command in commands for part in command], check_health=False
        )

    def _pack(self, connection: AbstractConnection, call: _Call) -> list[bytes]:
        if call.by_source:
            return connection.pack_command("EVAL", call.script.source, *call.args)
        if not call.repeats:
            return connection.pack_command("EVALSHA", call.script.sha, *call.args)
        key = (call.script.sha, *call.args)
        packed = self._packed.get(key)
        if packed is None:
            packed = connection.pack_command("EVALSHA", call.script.sha, *call.args)
            if len(self._packed) >= 16:
                self._packed.clear()
            self._packed[key] = packed
        return packed

    def _settle(self, call: _Call, reply: Any) -> None:
        if isinstance(reply, NoScriptError):
            call.by_source = True  # not cached (a new server, SCRIPT FLUSH): send the source
            self._outbox.append(call)
            return
        call.settle(reply)

    def _fail(self, exc: BaseException) -> None:
        failed = list(self._inflight)
        self._inflight.clear()
        for call in failed:
            call.settle(exc)

    @staticmethod
    async def _drop(connection: AbstractConnection | None, nowait: bool = True) -> None:
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.disconnect(nowait=nowait)


def _check_seconds(name: str, value: object) -> None:
    seconds(name, value, high=1e9, error=ConfigurationError)


class RedisRateLimiter:
    """At most *rate* requests per second over every process sharing *key*.

    Args:
        redis: A ``redis.asyncio.Redis`` client.
        key: The Redis key holding the limiter's state; share it to share the limit.
        rate: Requests per second, over all processes.
        burst: Requests that may go at once before the pacing starts (>= 1).
            In any one second at most ``rate + burst`` requests start.
        on_redis_error: ``"fail"`` or ``"local"`` when Redis cannot be reached.
        retry_redis_after: Seconds on the local fallback before trying Redis again.
        redis_timeout: Seconds any one Redis call may take (then: not reachable).
    """

    def __init__(
        self,
        redis: Redis,
        key: str,
        rate: float,
        burst: int = 1,
        *,
        on_redis_error: OnRedisError = "fail",
        retry_redis_after: float = DEFAULT_RETRY_REDIS_AFTER,
        redis_timeout: float = DEFAULT_REDIS_TIMEOUT,
    ) -> None:
        seconds("rate", rate, high=1e6, error=ConfigurationError, what="requests per second")
        integer("burst", burst, low=1, error=ConfigurationError)
        self.key = key
        self.rate = float(rate)
        self.burst = burst
        self._interval_us = 1_000_000 / self.rate
        self._interval_arg = f"{self._interval_us:.3f}"
        self._fallback = _Fallback(
            f"rate limiter {key!r}", on_redis_error, retry_redis_after, redis_timeout
        )
        self._link = _Link(redis, self._fallback.what, self._fallback.timeout)
        self._script = _Script(_GCRA)
        self._local: LocalRateLimiter | None = None
        # One request of this process asks Redis at a time (it "leads"), for itself
        # and for every request queued behind it meanwhile (longest waiting first).
        self._leading = False
        self._queue: collections.deque[asyncio.Future[bool]] = collections.deque()

    def __repr__(self) -> str:
        return f"RedisRateLimiter(key={self.key!r}, rate={self.rate:g}, burst={self.burst})"

    async def acquire(self) -> None:
        """Wait until one more request may start, by the shared limit."""
        if not self._fallback.active and await self._shared():
            return
        if self._local is None:
            self._local = LocalRateLimiter(self.rate, burst=self.burst)
        await self._local.acquire()

    async def _shared(self) -> bool:
        """Wait for the shared limit; False when Redis is down and the fallback applies."""
        if self._leading:  # another request asks Redis now: queue behind it
            turn: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._queue.append(turn)
            try:
                granted = await turn
            except BaseException:
                if turn.done() and not turn.cancelled() and not turn.result():
                    self._pass_lead()  # it was this request's turn to ask: pass it on
                raise
            if granted:
                return True
            # Now this request leads (self._leading stayed True).
        self._leading = True
        try:
            while not self._fallback.active:
                self._prune()
                asking = 1 + len(self._queue)
                call = self._link.run(
                    self._script,
                    (self.key,),
                    (self._interval_arg, self.burst, asking),
                    repeats=asking == 1,
                )
                try:
                    reply = await self._fallback.outcome(call)
                except BaseException:
                    if call.done() and not call.cancelled() and call.exception() is None:
                        # Answered, then cancelled: this request's share goes to the queue too.
                        self._hand_out(int(call.result()[0]))
                    raise
                if reply is None:
                    return False  # Redis is down: fall back
                tokens, wait_us = int(reply[0]), int(reply[1])
                if tokens > 0:
                    self._hand_out(tokens - 1)
                    return True
                await asyncio.sleep(wait_us / 1_000_000)
            return False
        finally:
            self._pass_lead()

    async def drain(self) -> None:
        """Close the limiter's own connection (the next call opens a new one).

        It closes by itself 30 s after the last call, and when the event loop
        shuts down; call this when a worker shuts down, before closing the Redis
        client.
        """
        await self._link.stop()

    def _prune(self) -> None:
        while self._queue and self._queue[0].done():
            self._queue.popleft()
        if any(turn.done() for turn in self._queue):
            self._queue = collections.deque(turn for turn in self._queue if not turn.done())

    def _hand_out(self, tokens: int) -> None:
        """Let *tokens* queued requests go, longest waiting first (more than wait: unused)."""
        while tokens > 0 and self._queue:
            turn = self._queue.popleft()
            if not turn.done():
                turn.set_result(True)
                tokens -= 1

    def _pass_lead(self) -> None:
        """The longest waiting queued request asks Redis next; if none waits, nobody leads."""
        while self._queue:
            turn = self._queue.popleft()
            if not turn.done():
                turn.set_result(False)
                return  # self._leading stays True: it is that request's now
        self._leading = False


class RedisConcurrencyLimiter:
    """At most *limit* requests in flight over every process sharing *key*.

    Each request holds a lease in a Redis sorted set. A lease expires *lease*
    seconds after it was last renewed; the leases of one process are renewed
    together (one script, one round trip) every ``lease / 3`` seconds while
    their requests run, so the slots of a worker that dies come back after at
    most *lease* seconds.

    Taking a slot is one script. A request that finds no free slot does not
    poll: it waits in its process until a slot is given back. Giving a slot back
    is one script that removes the lease and pushes a wake-up token on the list
    ``<key>:wake``; each process with waiting requests has one connection of its
    own blocked on that list (``BLPOP``), and hands each token to its longest
    waiting request, which takes the slot with one more script. A waiting
    request also asks again when the earliest lease may have expired (a holder
    that died gives nothing back).

    A slot given back while another request of the same process waits goes to
    that request directly: the lease stays in the sorted set (renewed by the
    process) and changes hands without a round trip. A lease goes from hand to
    hand for at most ``HANDOFF_WINDOW`` (0.5 s) after it came from Redis; the
    next give-back returns it to Redis, so that the waiting requests of the
    other processes get their turn.

    Args:
        redis: A ``redis.asyncio.Redis`` client.
        key: The sorted set holding the leases; share it to share the limit.
        limit: Requests in flight at once, over all processes.
        lease: Seconds a slot outlives a worker that stopped renewing it.
        on_redis_error: ``"fail"`` or ``"local"`` when Redis cannot be reached.
        retry_redis_after: Seconds on the local fallback before trying Redis again.
        redis_timeout: Seconds any one Redis call may take (then: not reachable).
    """

    def __init__(
        self,
        redis: Redis,
        key: str,
        limit: int,
        lease: float = 30.0,
        *,
        on_redis_error: OnRedisError = "fail",
        retry_redis_after: float = DEFAULT_RETRY_REDIS_AFTER,
        redis_timeout: float = DEFAULT_REDIS_TIMEOUT,
    ) -> None:
        integer("limit", limit, low=1, error=ConfigurationError)
        seconds("lease", lease, error=ConfigurationError)
        self.key = key
        self._limit = limit
        self.lease = float(lease)
        self._keys = [key, f"{key}:wake"]
        self._lease_arg = f"{self.lease:.6f}"
        self._acquire_script = _Script(_ACQUIRE)
        self._release_script = _Script(_RELEASE)
        self._renew_script = _Script(_RENEW)
        self._redis = redis
        self._fallback = _Fallback(
            f"concurrency limiter {key!r}", on_redis_error, retry_redis_after, redis_timeout
        )
        self._link = _Link(redis, self._fallback.what, self._fallback.timeout)
        # Loop time at which each lease held by this process came from Redis.
        self._since: dict[str, float] = {}
        self._local = LocalConcurrencyLimiter(limit)
        self._renewal_failing = False
        self._held: set[str] = set()  # tokens of this process's leases, renewed together
        self._renewer: asyncio.Task[None] | None = None
        # Requests of this process waiting for a slot, longest waiting first; one
        # listener task blocks on the wake-up list for all of them.
        # A waiter's future gets True (a wake-up: ask Redis), False (its time is up: ask
        # Redis) or a lease's token (handed over by a request of this process); beside
        # it, the loop time when its time is up. One alarm serves every deadline.
        self._waiters: collections.deque[tuple[asyncio.Future[str | bool], float]] = (
            collections.deque()
        )
        self._waiting = 0
        self._alarm: asyncio.TimerHandle | None = None
        self._listener: asyncio.Task[None] | None = None
        # Loop time when the earliest lease may expire, as of the last take that failed.
        self._retry_at = 0.0

    def __repr__(self) -> str:
        return (
            f"RedisConcurrencyLimiter(key={self.key!r}, limit={self._limit}, lease={self.lease:g})"
        )

    @property
    def limit(self) -> int:
        """The most requests in flight at once, over all processes."""
        return self._limit

    def slot(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold one shared slot (a renewed lease) for the duration of a request.

        A request that ends normally gives its lease back before it returns
        (bounded by ``redis_timeout``); one that is cancelled or fails gives it
        back in the background, so the caller is never held by Redis. Either way,
        if another request of this process waits, the slot goes to it at once.
        The object returned can be entered again once left; entering it while it
        is held raises ``RuntimeError``.
        """
        return _SharedSlot(self)

    async def drain(self) -> None:
        """Wait (up to ``redis_timeout``) for leases being given back in the background.

        Also waits for this process's wake-up listener to end (and close its
        connection) once no request waits, and closes the limiter's own
        connection (the next call opens a new one). Call it before closing the
        Redis client when a worker shuts down.
        """
        listener = self._listener
        if listener is not None and not self._waiting:
            await asyncio.wait((listener,), timeout=_BLOCK + self._fallback.timeout)
        # Every call answered first: the late answer of an abandoned take starts a give-back.
        await self._link.stop()
        await self._fallback.background.drain(self._fallback.timeout)
        await self._link.stop()  # its connection goes back to the Redis client's pool

    # -- taking a slot, waiting for one -------------------------------------------

    async def _take(self) -> str | None:
        """Wait for a lease: its token; None when Redis is down and the fallback applies."""
        woken: str | bool = False
        if self._waiting and not self._fallback.active:
            # Requests of this process already wait for a slot (Redis had none): join
            # them, woken as they are, or asking Redis when the earliest lease may expire.
            woken = await self._wait(
                self._retry_at - asyncio.get_running_loop().time(), front=False
            )
            if isinstance(woken, str):
                return woken
        token = uuid.uuid4().hex
        while not self._fallback.active:
            call = self._link.run(
                self._acquire_script,
                self._keys,
                (self._limit, self._lease_arg, token),
                # Abandoned (cancelled, or past redis_timeout) but sent: the script
                # may have granted the lease, so give it back.
                on_late=lambda _: self._give_back_later(token),
            )
            try:
                wait_ms = await self._fallback.outcome(call)
            except BaseException:
                if call.done() and not call.cancelled() and call.exception() is None:
                    # Answered, then cancelled before this request could resume.
                    self._give_back_later(token)
                raise
            if wait_ms is None:
                return None
            if int(wait_ms) == 0:
                self._since[token] = asyncio.get_running_loop().time()
                return token
            self._retry_at = asyncio.get_running_loop().time() + int(wait_ms) / 1000
            # No free slot: wait for a give-back (or for the earliest lease to expire).
            # A woken request that lost the race keeps its place at the front.
            woken = await self._wait(int(wait_ms) / 1000, front=woken is True)
            if isinstance(woken, str):
                return woken  # a lease handed over by a request of this process
        return None

    async def _wait(self, seconds: float, front: bool) -> str | bool:
        """Wait for a lease handed over (its token), a wake-up (True), or *seconds* (False)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[str | bool] = loop.create_future()
        deadline = loop.time() + seconds
        if front:
            self._waiters.appendleft((waiter, deadline))
        else:
            self._waiters.append((waiter, deadline))
        self._waiting += 1
        alarm = self._alarm
        if alarm is None or deadline < alarm.when():
            # One timer for every waiting request (the earliest deadline), not one each.
            if alarm is not None:
                alarm.cancel()
            self._alarm = loop.call_at(deadline, self._ring, deadline)
        try:
            if self._listener is None:
                self._listener = asyncio.ensure_future(self._listen())
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                given = waiter.result()
                if given is True:
                    self._wake_one()  # woken, then cancelled: pass the wake-up on
                elif given and not self._hand_off(given):  # handed a lease: pass it on
                    self._let_go(given)
                    self._give_back_later(given)
            raise
        finally:
            self._waiting -= 1
            waiter.cancel()  # (if still pending) never to be handed a wake-up or a lease
            if not self._waiting and self._alarm is not None:
                self._alarm.cancel()
                self._alarm = None

    def _ring(self, when: float) -> None:
        """The alarm: every request still waiting whose time is up gets False.

        Up by *when* (the time it was set for) or by now, whichever is later: the
        requests overdue meanwhile are woken together, not by one alarm each.
        """
        self._alarm = None
        loop = asyncio.get_running_loop()
        when = max(when, loop.time())
        later: float | None = None
        for waiter, deadline in self._waiters:
            if waiter.done():
                continue
            if deadline <= when:
                waiter.set_result(False)
            elif later is None or deadline < later:
                later = deadline
        if later is not None:
            self._alarm = loop.call_at(later, self._ring, later)

    def _hand_off(self, token: str) -> bool:
        """Give the lease *token* to the longest waiting request of this process, if any.

        Not when the lease was lost (it expired) or came from Redis
        ``HANDOFF_WINDOW`` seconds ago or more: then it goes back to Redis.
        """
        if token not in self._held or not self._waiters:
            return False
        since = self._since.get(token)
        if since is None or asyncio.get_running_loop().time() - since >= HANDOFF_WINDOW:
            return False
        return self._give_first(token)

    def _wake_one(self) -> bool:
        """Hand one wake-up to the longest waiting request; False if none waits."""
        return self._give_first(True)

    def _give_first(self, given: str | bool) -> bool:
        """Hand *given* to the longest waiting request still waiting; False if none does."""
        while self._waiters:
            waiter, _ = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(given)
                return True
        return False

    def _wake_all(self) -> None:
        while self._wake_one():
            pass

    def _wake_client(self) -> Redis:
        """This limiter's own client for blocking calls: a BLPOP holds its connection.

        Made from the user's client's connection settings, without its socket
        timeout (a BLPOP is bounded by its own timeout, and here by
        ``_BLOCK + redis_timeout``), with a pool of its own.
        """
        pool = self._redis.connection_pool
        kwargs = dict(pool.connection_kwargs)
        kwargs["socket_timeout"] = None
        return Redis.from_pool(
            ConnectionPool(connection_class=pool.connection_class, max_connections=1, **kwargs)
        )

    async def _listen(self) -> None:
        """While requests of this process wait: block on the wake-up list, fan tokens out.

        Ends (closing its connection) once no request of this process waits; the
        next one to wait starts a new listener.
        """
        wake = self._wake_client()
        try:
            while self._waiting:
                try:
                    got = await self._fallback.bounded(
                        wake.blpop([self._keys[1]], timeout=_BLOCK),
                        seconds=_BLOCK + self._fallback.timeout,
                    )
                except (RedisError, OSError) as exc:
                    # Cannot listen: let every waiting request ask Redis itself
                    # (it then sees the failure, or waits again on a new connection).
                    logger.debug("concurrency limiter %r: wake-ups failed (%s)", self.key, exc)
                    self._wake_all()
                    return
                if got is not None and not self._wake_one():
                    # Nobody here waits any more: the token is another process's.
                    self._fallback.background.spawn(self._pass_on(), 2 * self._fallback.timeout)
                    return
        finally:
            # No await between the last look at the waiters and these lines: a
            # request that starts waiting from now on starts a new listener.
            self._listener = None
            self._fallback.background.spawn(wake.aclose(), self._fallback.timeout)

    async def _pass_on(self) -> None:
        try:
            await self._link.run(
                self._release_script, self._keys, (self._limit, self._lease_arg, "")
            )
        except (RedisError, OSError) as exc:
            logger.debug("concurrency limiter %r: a wake-up was lost (%s)", self.key, exc)

    # -- holding a slot -------------------------------------------------------------

    def _hold(self, token: str) -> None:
        self._held.add(token)
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.ensure_future(self._keep())

    def _let_go(self, token: str) -> None:
        self._held.discard(token)
        self._since.pop(token, None)
        if not self._held and self._renewer is not None:
            self._renewer.cancel()
            self._fallback.background.adopt(self._renewer)
            self._renewer = None

    async def _keep(self) -> None:
        """Renew every lease this process holds, in one script, every ``lease / 3`` s."""
        while self._held:
            await asyncio.sleep(self.lease / 3)
            tokens = list(self._held)
            if not tokens:
                return
            try:
                lost: Any = await self._link.run(
                    self._renew_script, self._keys[:1], (self._lease_arg, *tokens)
                )
            except (RedisError, OSError) as exc:
                if not self._renewal_failing:  # once per outage, not once per request
                    self._renewal_failing = True
                    logger.warning("concurrency limiter %r: leases not renewed (%s)", self.key, exc)
                continue
            self._renewal_failing = False
            for item in lost:
                lost_token = item.decode() if isinstance(item, bytes) else str(item)
                if lost_token in self._held:  # not one given back meanwhile
                    self._held.discard(lost_token)
                    logger.warning(
                        "concurrency limiter %r: a lease expired while its request ran "
                        "(the request outlived lease=%gs without a renewal)",
                        self.key,
                        self.lease,
                    )

    # -- giving a slot back -----------------------------------------------------------

    def _give_back_later(self, token: str) -> None:
        self._fallback.background.spawn(self._give_back(token), 2 * self._fallback.timeout)

    async def _give_back(self, token: str) -> None:
        try:
            await self._link.run(
                self._release_script, self._keys, (self._limit, self._lease_arg, token)
            )
        except (RedisError, OSError) as exc:  # the lease expires on its own
            logger.debug("concurrency limiter %r: release failed (%s)", self.key, exc)


class _SharedSlot:
    """One request's hold on a ``RedisConcurrencyLimiter`` slot (``async with``)."""

    __slots__ = ("_limiter", "_local", "_token")

    def __init__(self, limiter: RedisConcurrencyLimiter) -> None:
        self._limiter = limiter
        self._token: str | None = None
        self._local: contextlib.AbstractAsyncContextManager[Any] | None = None

    async def __aenter__(self) -> None:
        if self._token is not None or self._local is not None:
            raise RuntimeError("this slot is already held: call limiter.slot() for another")
        limiter = self._limiter
        token = await limiter._take()  # gives the lease back itself if cancelled
        if token is None:  # Redis is down and we were told to go local
            local = limiter._local.slot()
            await local.__aenter__()
            self._local = local
            return
        self._token = token
        limiter._hold(token)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        local = self._local
        if local is not None:
            self._local = None
            await local.__aexit__(exc_type, exc, tb)
            return
        limiter, token = self._limiter, self._token
        if token is None:
            return
        self._token = None
        if limiter._hand_off(token):  # another request of this process waits: it is its
            return
        limiter._let_go(token)
        if exc_type is not None:  # cancelled or failed: give it back in the background
            limiter._give_back_later(token)
            return
        try:
            await limiter._give_back(token)
        except BaseException:  # cancelled while giving back: finish in the background
            limiter._give_back_later(token)
            raise
