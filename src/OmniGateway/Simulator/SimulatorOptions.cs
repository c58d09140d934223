namespace OmniGateway.Simulator;

/// <summary><c>Simulator:</c> — pacing of the built-in simulated upstream.</summary>
public sealed class SimulatorOptions
{
    /// <summary>Pause between two events, so a newcomer sees the answer arrive piece by piece.</summary>
    public TimeSpan EventDelay { get; set; } = TimeSpan.FromMilliseconds(40);
}
