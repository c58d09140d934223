namespace OmniGateway.Upstream;

/// <summary>
/// Try 1 of a call whose body is still arriving (<see cref="Validation.StreamedRequestBody"/>), started by
/// <see cref="UpstreamRetryHandler.StartFirstTry"/> before step 4 has judged the body. The retry loop adopts it as its
/// first try once the call is forwarded; otherwise it is abandoned, its request cancelled (its body never ends).
/// </summary>
internal sealed class UpstreamFirstTry(UpstreamDestination destination, Task<HttpResponseMessage> response, CancellationTokenSource cancellation)
{
    private int _claimed;

    public UpstreamDestination Destination { get; } = destination;

    /// <summary>True once, for whichever of adoption and abandonment comes first.</summary>
    public bool TryClaim() => Interlocked.Exchange(ref _claimed, 1) == 0;

    /// <summary>The try's answer, as the retry loop waits for any try's: its token (the deadline's) cancels the request.</summary>
    public async Task<HttpResponseMessage> ResponseAsync(CancellationToken cancellationToken)
    {
        await using var link = cancellationToken.Register(static state => ((CancellationTokenSource)state!).Cancel(), cancellation);
        return await response;
    }

    /// <summary>The call is not forwarded (refused, or sent whole): the request is cancelled and whatever it ends with is let go.</summary>
    public void Abandon()
    {
        if (!TryClaim()) return;
        cancellation.Cancel();
        response.ContinueWith(static ended =>
        {
            if (ended.IsCompletedSuccessfully) ended.Result.Dispose();
            else _ = ended.Exception; // observed: a refused body's send fails by design
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }
}
