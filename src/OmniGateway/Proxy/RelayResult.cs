namespace OmniGateway.Proxy;

/// <summary>
/// How a proxied call ended, as a value (the shape of YARP's <c>StreamCopyResult</c> and
/// <c>ForwarderError</c>): the relay returns it, the forwarder turns it into the one usage record and
/// then into what the client is told. The first nine come from <see cref="SseRelay"/>, the last two
/// from the forwarder, for calls whose answer never reached the relay.
/// </summary>
public enum RelayEnd
{
    /// <summary>The terminal event was stored, then relayed (the stream may have broken after it).</summary>
    Relayed,

    /// <summary>The terminal event's record could not be stored, so the completion was withheld.</summary>
    TerminalNotRecorded,

    /// <summary>The upstream closed after <c>[DONE]</c> without a terminal event.</summary>
    EndedAfterDone,

    /// <summary>The upstream answered 200 and closed without a single event.</summary>
    Empty,

    /// <summary>The upstream closed the stream before the answer was complete.</summary>
    ClosedEarly,

    /// <summary>The upstream connection broke (or reading it failed).</summary>
    Broken,

    /// <summary>The first-byte or idle timeout, or the stream's maximum duration, ran out.</summary>
    TimedOut,

    /// <summary>The client left; <see cref="RelayResult.Terminal"/> is set when the answer was read on to its usage.</summary>
    ClientGone,

    /// <summary>The gateway's shutdown timeout ran out while the answer was still streaming.</summary>
    ShuttingDown,

    /// <summary>The upstream refused the call (an error status or a JSON error body).</summary>
    Refused,

    /// <summary>The upstream could not be reached, or sent no response headers.</summary>
    Unreachable,
}

/// <summary>
/// What happened to one call: how it ended, the terminal event if one arrived, when the first event
/// arrived (a <see cref="TimeProvider"/> timestamp; 0 = none), the response id from <c>response.created</c>,
/// and the exception behind a broken end.
/// </summary>
public readonly record struct RelayResult(RelayEnd End, TerminalEvent? Terminal, long FirstEventTimestamp, string? ResponseId, Exception? Error = null)
{
    public bool Started => FirstEventTimestamp != 0;

    /// <summary>The relay handed the record to the ledger before relaying the terminal event (successfully or not): nobody writes it again.</summary>
    public bool RecordHandedOver => End is RelayEnd.Relayed or RelayEnd.TerminalNotRecorded;
}
