using OmniGateway.Observability;

namespace OmniGateway.Tests.Observability;

/// <summary>Request ids and record keys: their format, their GUID version, their order, and no repeats from the per-thread random buffer.</summary>
public sealed class PrefixedIdsTests
{
    [Fact]
    public void RandomId_IsThePrefix_AndAVersion4Guid()
    {
        var id = PrefixedIds.Random("req_");

        Assert.Matches("^req_[0-9a-f]{32}$", id);
        var guid = Guid.ParseExact(id[4..], "N");
        Assert.Equal(4, guid.Version);
        Assert.Equal(0b1000, guid.Variant & 0b1100); // RFC 9562: the variant's top bits are 10
    }

    [Fact]
    public void TimeOrderedId_StartsWithItsMilliseconds_AndSortsByThem()
    {
        var earlier = DateTimeOffset.Parse("2026-12-02T10:00:00.123Z");
        var later = earlier.AddMilliseconds(1);

        var first = PrefixedIds.TimeOrdered("rec_", earlier);
        var second = PrefixedIds.TimeOrdered("rec_", later);

        var guid = Guid.ParseExact(first[4..], "N");
        Assert.Equal(7, guid.Version);
        Assert.Equal(0b1000, guid.Variant & 0b1100); // RFC 9562: the variant's top bits are 10
        Assert.Equal(earlier.ToUnixTimeMilliseconds().ToString("x12"), first[4..16]);
        Assert.True(string.CompareOrdinal(first, second) < 0);
    }

    [Fact]
    public void Ids_DoNotRepeat_AcrossThreadsAndBufferRefills()
    {
        // 16 random bytes per id and a 512-byte buffer per thread: 4 000 ids per thread refill it 125 times.
        var ids = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 8, _ =>
        {
            for (var i = 0; i < 4_000; i++) ids.Add(PrefixedIds.Random("req_"));
        });

        Assert.Equal(ids.Count, ids.Distinct().Count());
    }
}
