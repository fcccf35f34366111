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
  script: atomic, one round trip per request, on Redis's clock (``TIME``), so
  the workers' clocks do not matter.
- ``RedisConcurrencyLimiter`` is a semaphore of leases in a sorted set: a slot
  expires *lease* seconds after it was last renewed, and is renewed while its
  request runs, so a worker that dies never holds a slot for longer than that.

Every Redis call a limiter makes runs in a task of its own, bounded by
``redis_timeout`` (2 s by default) whatever the Redis client's own settings, so
a frozen Redis (or one behind a dead network) cannot hold a request, and a
cancellation that redis-py swallows (redis/redis-py#2028, #2551) is still
honoured: the caller waits on the call's task, never inside redis-py. A call
past ``redis_timeout`` counts as "Redis cannot be reached".

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
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal, TypeVar

try:
    from redis.asyncio import ConnectionPool, Redis
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError
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

# KEYS[1] the key; ARGV[1] emission interval (us), ARGV[2] burst.
# Returns 0 when the request may go, else the microseconds to wait.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - now - burst * interval
if wait > 0 then return math.ceil(wait) end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX',
           math.ceil((new_tat - now) / 1000) + 1000)
return 0
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
    """Every Redis call of one limiter: bounded, cancellation-proof; the ``on_redis_error`` policy.

    Each call runs in a task of its own and the caller waits on that task for at
    most ``timeout`` seconds: neither a frozen Redis nor a cancellation swallowed
    inside redis-py can hold the caller. An abandoned call is cancelled and kept
    referenced (in ``background``) until it ends.
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

    async def bounded(
        self,
        work: Awaitable[T],
        on_abandon: Callable[[asyncio.Future[T]], None] | None = None,
        seconds: float | None = None,
    ) -> T:
        """Await *work* in a task of its own for at most ``timeout`` (or *seconds*) seconds.

        Raises ``RedisTimeoutError`` past the timeout. If the caller is cancelled,
        the cancellation propagates at once; the abandoned call is cancelled, and
        *on_abandon* (if given) is called with its task, e.g. to undo what it may
        still do.
        """
        call = asyncio.ensure_future(work)
        try:
            done, _ = await asyncio.wait(
                (call,), timeout=self.timeout if seconds is None else seconds
            )
        except BaseException:
            self._abandon(call, on_abandon)
            raise
        if not done:
            self._abandon(call, on_abandon)
            raise RedisTimeoutError(f"no answer within redis_timeout={self.timeout:g} s")
        return call.result()

    def _abandon(
        self, call: asyncio.Future[T], on_abandon: Callable[[asyncio.Future[T]], None] | None
    ) -> None:
        call.cancel()
        self.background.adopt(call)
        if on_abandon is not None:
            on_abandon(call)

    async def call(
        self,
        work: Callable[[], Awaitable[T]],
        on_abandon: Callable[[asyncio.Future[T]], None] | None = None,
    ) -> T | None:
        """Run a Redis call; on a Redis failure raise, or return ``None`` (go local).

        Only an unreachable Redis (a connection error, or no answer within
        ``redis_timeout``) may go local; any other Redis error (a key of the
        wrong type, a script error) is a misconfiguration and always raises.
        """
        try:
            result = await self.bounded(work(), on_abandon)
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
        self._script = redis.register_script(_GCRA)
        self._fallback = _Fallback(
            f"rate limiter {key!r}", on_redis_error, retry_redis_after, redis_timeout
        )
        self._local: LocalRateLimiter | None = None

    def __repr__(self) -> str:
        return f"RedisRateLimiter(key={self.key!r}, rate={self.rate:g}, burst={self.burst})"

    async def acquire(self) -> None:
        """Wait until one more request may start, by the shared limit."""
        while not self._fallback.active:
            wait_us = await self._fallback.call(self._ask)
            if wait_us is None:
                break  # Redis is down: fall back below
            if wait_us <= 0:
                return
            await asyncio.sleep(wait_us / 1_000_000)
        if self._local is None:
            self._local = LocalRateLimiter(self.rate, burst=self.burst)
        await self._local.acquire()

    async def _ask(self) -> int:
        result: Any = await self._script(
            keys=[self.key], args=[f"{self._interval_us:.3f}", self.burst]
        )
        return int(result)


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
        self._acquire_script = redis.register_script(_ACQUIRE)
        self._release_script = redis.register_script(_RELEASE)
        self._renew_script = redis.register_script(_RENEW)
        self._redis = redis
        self._fallback = _Fallback(
            f"concurrency limiter {key!r}", on_redis_error, retry_redis_after, redis_timeout
        )
        self._local = LocalConcurrencyLimiter(limit)
        self._renewal_failing = False
        self._held: set[str] = set()  # tokens of this process's leases, renewed together
        self._renewer: asyncio.Task[None] | None = None
        # Requests of this process waiting for a slot, longest waiting first; one
        # listener task blocks on the wake-up list for all of them.
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._waiting = 0
        self._listener: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return (
            f"RedisConcurrencyLimiter(key={self.key!r}, limit={self._limit}, lease={self.lease:g})"
        )

    @property
    def limit(self) -> int:
        """The most requests in flight at once, over all processes."""
        return self._limit

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one shared slot (a renewed lease) for the duration of a request.

        A request that ends normally gives its lease back before it returns
        (bounded by ``redis_timeout``); one that is cancelled or fails gives it
        back in the background, so the caller is never held by Redis.
        """
        token = uuid.uuid4().hex
        taken = await self._take(token)  # gives the lease back itself if cancelled
        if not taken:
            async with self._local.slot():  # Redis is down and we were told to go local
                yield
            return
        self._hold(token)
        try:
            yield
        except BaseException:
            self._let_go(token)
            self._give_back_later(token)
            raise
        self._let_go(token)
        try:
            await self._give_back(token)
        except BaseException:  # cancelled while giving back: finish in the background
            self._give_back_later(token)
            raise

    async def drain(self) -> None:
        """Wait (up to ``redis_timeout``) for leases being given back in the background.

        Also waits for this process's wake-up listener to end (and close its
        connection) once no request waits. Call it before closing the Redis client when a
        worker shuts down.
        """
        listener = self._listener
        if listener is not None and not self._waiting:
            await asyncio.wait((listener,), timeout=_BLOCK + self._fallback.timeout)
        await self._fallback.background.drain(self._fallback.timeout)

    # -- taking a slot, waiting for one -------------------------------------------

    async def _take(self, token: str) -> bool:
        """Wait for a lease; False when Redis is down and the fallback applies."""
        woken = False
        while not self._fallback.active:
            wait_ms = await self._fallback.call(
                lambda: self._acquire_script(
                    keys=self._keys, args=[self._limit, self._lease_arg, token]
                ),
                # Abandoned (cancelled, or past redis_timeout): the script may still
                # grant the lease, so give it back once the call has ended.
                on_abandon=lambda call: self._give_back_later(token, after=call),
            )
            if wait_ms is None:
                return False
            if int(wait_ms) == 0:
                return True
            # No free slot: wait for a give-back (or for the earliest lease to expire).
            # A woken request that lost the race keeps its place at the front.
            woken = await self._wait(int(wait_ms) / 1000, front=woken)
        return False

    async def _wait(self, seconds: float, front: bool) -> bool:
        """Wait to be woken by a give-back (True) or for *seconds* (False)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if front:
            self._waiters.appendleft(waiter)
        else:
            self._waiters.append(waiter)
        self._waiting += 1
        try:
            if self._listener is None:
                self._listener = asyncio.ensure_future(self._listen())
            done, _ = await asyncio.wait((waiter,), timeout=seconds)
            return bool(done)
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._wake_one()  # woken, then cancelled: pass the wake-up on
            raise
        finally:
            self._waiting -= 1
            waiter.cancel()  # (if still pending) never to be handed a wake-up

    def _wake_one(self) -> bool:
        """Hand one wake-up to the longest waiting request; False if none waits."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
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
            await self._fallback.bounded(
                self._release_script(keys=self._keys, args=[self._limit, self._lease_arg, ""])
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
                lost: Any = await self._fallback.bounded(
                    self._renew_script(keys=self._keys[:1], args=[self._lease_arg, *tokens])
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

    def _give_back_later(self, token: str, after: asyncio.Future[Any] | None = None) -> None:
        self._fallback.background.spawn(
            self._give_back(token, after=after), 2 * self._fallback.timeout
        )

    async def _give_back(self, token: str, after: asyncio.Future[Any] | None = None) -> None:
        if after is not None and not after.done():
            await asyncio.wait((after,), timeout=self._fallback.timeout)
        try:
            await self._fallback.bounded(
                self._release_script(keys=self._keys, args=[self._limit, self._lease_arg, token])
            )
        except (RedisError, OSError) as exc:  # the lease expires on its own
            logger.debug("concurrency limiter %r: release failed (%s)", self.key, exc)
