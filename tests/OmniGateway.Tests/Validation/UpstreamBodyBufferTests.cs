using System.Text;
using OmniGateway.Upstream;
using OmniGateway.Validation;

namespace OmniGateway.Tests.Validation;

/// <summary>
/// The enriched body's pooled array goes back to the pool exactly once, and only when the call and every try
/// sending it are done: twice would hand one array to two calls, early would send another call's bytes.
/// </summary>
public sealed class UpstreamBodyBufferTests
{
    [Fact]
    public void TheWriterHandsOnExactlyTheWrittenBytes()
    {
        var writer = new UpstreamBodyWriter(16);
        "{\"a\":1}"u8.CopyTo(writer.GetSpan(7));
        writer.Advance(7);
        using var buffer = writer.Detach();
        Assert.Equal("{\"a\":1}", Encoding.UTF8.GetString(buffer.Memory.Span));
    }

    [Fact]
    public void AfterTheCallEnds_NoTryCanHoldIt_AndASecondDisposeGivesNothingBackTwice()
    {
        var buffer = Buffer("{}");
        Assert.True(buffer.TryHold());
        buffer.LetGo();
        buffer.Dispose();
        Assert.False(buffer.TryHold());
        buffer.Dispose(); // idempotent: the call's one hold is let go once
        Assert.False(buffer.TryHold());
    }

    [Fact]
    public async Task ATryStillSending_KeepsTheArrayOutOfThePool_UntilItsWriteEnds()
    {
        var buffer = Buffer("{\"input\":\"hello\"}");
        var stream = new GatedStream();
        var content = new UpstreamBodyContent(buffer.Memory, buffer);

        var sending = content.CopyToAsync(stream);
        await stream.WriteStarted.Task.WaitAsync(TimeSpan.FromSeconds(5));
        buffer.Dispose(); // the call ends while the try is mid-write

        Assert.True(buffer.TryHold(), "the sending try must still hold the array");
        buffer.LetGo();

        stream.Release.SetResult();
        await sending.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("{\"input\":\"hello\"}", Encoding.UTF8.GetString(stream.Written.ToArray()));
        Assert.False(buffer.TryHold()); // the last hold is gone: the array is back in the pool
    }

    [Fact]
    public async Task ATryAfterTheCallEnded_IsRefused_RatherThanSendingFromAReturnedArray()
    {
        var buffer = Buffer("{}");
        buffer.Dispose();
        var content = new UpstreamBodyContent(buffer.Memory, buffer);
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => content.CopyToAsync(new MemoryStream()));
        Assert.IsType<ObjectDisposedException>(refused.InnerException);
    }

    [Fact]
    public async Task AFailedWrite_LetsGoOfItsHold()
    {
        var buffer = Buffer("{}");
        var content = new UpstreamBodyContent(buffer.Memory, buffer);
        var failed = await Assert.ThrowsAsync<HttpRequestException>(() => content.CopyToAsync(new FailingStream()));
        Assert.IsType<IOException>(failed.InnerException);
        buffer.Dispose();
        Assert.False(buffer.TryHold());
    }

    private static UpstreamBodyBuffer Buffer(string json)
    {
        var writer = new UpstreamBodyWriter(json.Length);
        var length = Encoding.UTF8.GetBytes(json, writer.GetSpan(json.Length));
        writer.Advance(length);
        return writer.Detach();
    }

    private sealed class GatedStream : MemoryStream
    {
        public TaskCompletionSource WriteStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public MemoryStream Written { get; } = new();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            WriteStarted.TrySetResult();
            await Release.Task;
            Written.Write(buffer.Span);
        }
    }

    private sealed class FailingStream : MemoryStream
    {
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromException(new IOException("connection reset"));
    }
}
