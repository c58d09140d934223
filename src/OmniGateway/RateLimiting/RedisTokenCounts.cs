using System.Collections.Concurrent;
using StackExchange.Redis;

namespace OmniGateway.RateLimiting;

/// <summary>
/// The token half of the Redis counts: tokens per minute (charged tokens in ten-second buckets, plus what
/// calls in flight reserved) and budget reservations, for every instance, in one script per admission. A
/// reservation is an entry in a sorted set scored by its expiry, renewed while its call runs, so a dead
/// instance's reservations leave the counts within <see cref="RateLimitingOptions.StreamLeaseTtl"/>. Each
/// budget counter also keeps what the records of its period were charged, so an instance whose store totals
/// are a few seconds old still sees what the others spent.
/// </summary>
public sealed partial class RedisRequestCounters : ISharedTokenCounts
{
    // Releases reservation ARGV[1]: its amounts (KEYS[3], "counter=amount ...") leave the in-flight totals (KEYS[4]).
    private const string ReleaseFunction = """
        local function release(id)
          local held = redis.call('HGET', KEYS[3], id)
          if held then
            for name, amount in string.gmatch(held, '(%S+)=(%d+)') do
              if redis.call('HINCRBY', KEYS[4], name, '-' .. amount) <= 0 then redis.call('HDEL', KEYS[4], name) end
            end
            redis.call('HDEL', KEYS[3], id)
          end
          redis.call('ZREM', KEYS[2], id)
        end
        """;

    // KEYS[1] charged tokens by ten-second bucket (hash), KEYS[2] reservations (sorted set, score = expiry ms),
    // KEYS[3] each reservation's amounts (hash), KEYS[4] in-flight total per counter (hash), KEYS[4+i] budget i's spent total.
    // ARGV: reservation id, ttl ms, tokens-per-minute limit (0 = none), input tokens, output cap, minimum output,
    // then per budget: counter, limit, committed (the store's), input amount, amount per output token.
    // Returns {0, output} admitted, {1, budget index, spent, reserved} budget, {2, used, in flight, retry-after ms} minute.
    private const string ReserveScript = ReleaseFunction + """

        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local ttl = tonumber(ARGV[2])
        for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do release(id) end
        local input = tonumber(ARGV[4])
        local output = tonumber(ARGV[5])
        local minOutput = math.min(tonumber(ARGV[6]), output)
        local budgets = (#ARGV - 6) / 5
        for i = 1, budgets do
          local b = 6 + (i - 1) * 5
          local spent = math.max(tonumber(ARGV[b + 3]), tonumber(redis.call('GET', KEYS[4 + i]) or '0'))
          local reserved = tonumber(redis.call('HGET', KEYS[4], ARGV[b + 1]) or '0')
          local base = tonumber(ARGV[b + 4])
          local rate = tonumber(ARGV[b + 5])
          local room = tonumber(ARGV[b + 2]) - spent - reserved
          if room < base + minOutput * rate then return {1, i, spent, reserved} end
          output = math.min(output, math.floor((room - base) / rate))
        end
        local tpm = tonumber(ARGV[3])
        if tpm > 0 then
          local bucket = math.floor(now / 10000)
          local used, oldest = 0, bucket
          local fields = redis.call('HGETALL', KEYS[1])
          for j = 1, #fields, 2 do
            local b = tonumber(fields[j])
            if b <= bucket - 6 then redis.call('HDEL', KEYS[1], fields[j])
            else
              used = used + tonumber(fields[j + 1])
              if b < oldest then oldest = b end
            end
          end
          local inFlight = tonumber(redis.call('HGET', KEYS[4], 'tpm') or '0')
          if used + inFlight >= tpm then
            local retry = 1000
            if used > 0 then retry = (oldest + 6) * 10000 - now end
            return {2, used, inFlight, retry}
          end
        end
        local held = {}
        for i = 1, budgets do
          local b = 6 + (i - 1) * 5
          local amount = string.format('%d', tonumber(ARGV[b + 4]) + output * tonumber(ARGV[b + 5]))
          redis.call('HINCRBY', KEYS[4], ARGV[b + 1], amount)
          held[#held + 1] = ARGV[b + 1] .. '=' .. amount
        end
        if tpm > 0 then
          local amount = string.format('%d', input + output)
          redis.call('HINCRBY', KEYS[4], 'tpm', amount)
          held[#held + 1] = 'tpm=' .. amount
        end
        if #held > 0 then
          redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
          redis.call('HSET', KEYS[3], ARGV[1], table.concat(held, ' '))
          for k = 2, 4 do redis.call('PEXPIRE', KEYS[k], ttl * 2) end
        end
        return {0, output}
        """;

    // KEYS as above. ARGV: reservation id ('' = none), charged tokens, then per KEYS[4+i]: amount, expire-at ms.
    private const string SettleScript = ReleaseFunction + """

        if ARGV[1] ~= '' then release(ARGV[1]) end
        if tonumber(ARGV[2]) > 0 then
          local t = redis.call('TIME')
          redis.call('HINCRBY', KEYS[1], math.floor(tonumber(t[1]) / 10), ARGV[2])
          redis.call('PEXPIRE', KEYS[1], 70000)
        end
        for i = 5, #KEYS do
          local a = 3 + (i - 5) * 2
          if tonumber(ARGV[a]) > 0 then
            redis.call('INCRBY', KEYS[i], ARGV[a])
            redis.call('PEXPIREAT', KEYS[i], ARGV[a + 1])
          end
        end
        return 1
        """;

    // KEYS[1..3] reservations, amounts, in-flight totals; ARGV: reservation id, ttl ms.
    private const string RenewReservationScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local ttl = tonumber(ARGV[2])
        if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
          redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
          for k = 1, 3 do redis.call('PEXPIRE', KEYS[k], ttl * 2) end
        end
        return 1
        """;

    private readonly ConcurrentDictionary<string, Reservation> _reservations = new(StringComparer.Ordinal);

    public async ValueTask<SharedTokenCount?> TryReserveAsync(string tenantId, string requestId, long? tokensPerMinute, long inputTokens, long outputCap,
        IReadOnlyList<BudgetDemand> budgets)
    {
        // While the multiplexer is down, do not wait for its timeout on every call: count here until it is back.
        if (!_redis.IsConnected) return Fallback();
        var member = Guid.NewGuid().ToString("N");
        var keys = new RedisKey[4 + budgets.Count];
        TokenKeys(tenantId, keys);
        var args = new RedisValue[6 + 5 * budgets.Count];
        (args[0], args[1], args[2], args[3], args[4], args[5]) =
            (member, (long)_options.StreamLeaseTtl.TotalMilliseconds, tokensPerMinute ?? 0, inputTokens, outputCap, Usage.TokenBudgets.MinOutputTokens);
        for (var i = 0; i < budgets.Count; i++)
        {
            var budget = budgets[i];
            keys[4 + i] = Key(tenantId, "spent:" + budget.Counter);
            (args[6 + 5 * i], args[7 + 5 * i], args[8 + 5 * i], args[9 + 5 * i], args[10 + 5 * i]) =
                (budget.Counter, budget.Limit, budget.Committed, budget.InputAmount, Math.Max(1, budget.AmountPerOutputToken));
        }
        RedisResult result;
        try
        {
            result = await _redis.GetDatabase().ScriptEvaluateAsync(ReserveScript, keys, args);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            Unreachable(exception);
            return Fallback();
        }
        Reachable();
        var answer = (long[])result!; // the script always returns integers
        switch (answer[0])
        {
            case 1: return new SharedTokenCount(SharedTokenRefusal.Budget, (int)answer[1] - 1, answer[2], answer[3], 0, 0, null);
            case 2: return new SharedTokenCount(SharedTokenRefusal.TokensPerMinute, -1, answer[1], answer[2], answer[3], 0, null);
        }
        if (tokensPerMinute is null && budgets.Count == 0) return new SharedTokenCount(SharedTokenRefusal.None, -1, 0, 0, 0, answer[1], null);
        var reservation = new Reservation(this, tenantId, requestId, member);
        _reservations[requestId] = reservation;
        return new SharedTokenCount(SharedTokenRefusal.None, -1, 0, 0, 0, answer[1], reservation);

        SharedTokenCount? Fallback()
        {
            _fallbacks.Add(1);
            return null;
        }
    }

    public void Settle(string tenantId, string requestId, long chargedTokens, IReadOnlyList<BudgetCharge> charges)
    {
        var member = _reservations.TryRemove(requestId, out var reservation) ? reservation.MarkSettled() : null;
        var keys = new RedisKey[4 + charges.Count];
        TokenKeys(tenantId, keys);
        var args = new RedisValue[2 + 2 * charges.Count];
        (args[0], args[1]) = (member ?? "", Math.Max(0, chargedTokens));
        for (var i = 0; i < charges.Count; i++)
        {
            keys[4 + i] = Key(tenantId, "spent:" + charges[i].Counter);
            (args[2 + 2 * i], args[3 + 2 * i]) = (Math.Max(0, charges[i].Amount), charges[i].ExpiresAt.ToUnixTimeMilliseconds());
        }
        Send(SettleScript, keys, args);
    }

    private void TokenKeys(string tenantId, RedisKey[] keys) =>
        (keys[0], keys[1], keys[2], keys[3]) = (Key(tenantId, "tpm"), Key(tenantId, "held"), Key(tenantId, "held-amounts"), Key(tenantId, "reserved"));

    /// <summary>The call ended without a stored record (the store failed): the reservation goes, nothing is charged here.</summary>
    private void Release(Reservation reservation)
    {
        if (!_reservations.TryRemove(new KeyValuePair<string, Reservation>(reservation.RequestId, reservation))) return;
        var keys = new RedisKey[4];
        TokenKeys(reservation.TenantId, keys);
        Send(SettleScript, keys, [reservation.Member, 0]);
    }

    /// <summary>Fire and forget: if Redis is away the reservation simply expires, and the charge is this instance's only.</summary>
    private void Send(string script, RedisKey[] keys, RedisValue[] args)
    {
        try { _redis.GetDatabase().ScriptEvaluate(script, keys, args, CommandFlags.FireAndForget); }
        catch (Exception exception) when (exception is RedisException or TimeoutException) { }
    }

    private async Task RenewReservationsAsync(long ttl)
    {
        foreach (var reservation in _reservations.Values)
        {
            var keys = new RedisKey[4];
            TokenKeys(reservation.TenantId, keys);
            await _redis.GetDatabase().ScriptEvaluateAsync(RenewReservationScript, [keys[1], keys[2], keys[3]], [reservation.Member, ttl]);
        }
    }

    private sealed class Reservation(RedisRequestCounters owner, string tenantId, string requestId, string member) : IDisposable
    {
        private int _done;
        public string TenantId { get; } = tenantId;
        public string RequestId { get; } = requestId;
        public string Member { get; } = member;

        /// <summary>Settled with its record: disposing it later does nothing.</summary>
        public string MarkSettled()
        {
            Interlocked.Exchange(ref _done, 1);
            return Member;
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) owner.Release(this);
        }
    }
}
