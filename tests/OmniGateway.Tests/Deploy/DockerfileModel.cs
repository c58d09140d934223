using System.Text;
using System.Text.Json;

namespace OmniGateway.Tests.Deploy;

internal sealed record DockerInstruction(string Keyword, string Arguments);

internal sealed record DockerStage(string Image, string? Name, IReadOnlyList<DockerInstruction> Instructions)
{
    public IEnumerable<DockerInstruction> Where(string keyword) =>
        Instructions.Where(i => i.Keyword.Equals(keyword, StringComparison.OrdinalIgnoreCase));

    /// <summary>ENV as the stage leaves it; both `ENV K=V K2="V 2"` and the legacy `ENV K V` form.</summary>
    public IReadOnlyDictionary<string, string> Environment()
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var instruction in Where("ENV"))
        {
            var words = DockerfileModel.ShellWords(instruction.Arguments);
            if (words.Count == 2 && !words[0].Contains('=', StringComparison.Ordinal))
            {
                env[words[0]] = words[1];
                continue;
            }
            foreach (var word in words)
            {
                var eq = word.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0) env[word[..eq]] = word[(eq + 1)..];
            }
        }
        return env;
    }
}

internal sealed record DockerCopy(IReadOnlyList<string> Sources, string Destination, string? From);

/// <summary>
/// Just enough of the Dockerfile grammar for the tests: no engine or hadolint is available here, so the file
/// is read the way BuildKit reads it (comments dropped, `\` continuations joined, one instruction per line).
/// </summary>
internal sealed class DockerfileModel
{
    private DockerfileModel(IReadOnlyList<DockerStage> stages) => Stages = stages;

    public IReadOnlyList<DockerStage> Stages { get; }

    public DockerStage Final => Stages[^1];

    public static DockerfileModel Parse(string text)
    {
        var stages = new List<DockerStage>();
        List<DockerInstruction>? current = null;
        string image = "", name = "";
        foreach (var (keyword, arguments) in Instructions(text))
        {
            if (keyword == "FROM")
            {
                if (current is not null) stages.Add(new DockerStage(image, name.Length == 0 ? null : name, current));
                var words = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(w => !w.StartsWith("--", StringComparison.Ordinal)).ToList();
                image = words[0];
                name = words.Count >= 3 && words[1].Equals("AS", StringComparison.OrdinalIgnoreCase) ? words[2] : "";
                current = [];
                continue;
            }
            // Instructions before the first FROM (global ARGs) belong to no stage.
            current?.Add(new DockerInstruction(keyword, arguments));
        }
        if (current is not null) stages.Add(new DockerStage(image, name.Length == 0 ? null : name, current));
        return new DockerfileModel(stages);
    }

    public static DockerCopy ParseCopy(DockerInstruction copy)
    {
        var words = ShellWords(copy.Arguments);
        var from = words.Where(w => w.StartsWith("--from=", StringComparison.Ordinal)).Select(w => w["--from=".Length..]).FirstOrDefault();
        var paths = words.Where(w => !w.StartsWith("--", StringComparison.Ordinal)).ToList();
        return new DockerCopy(paths[..^1], paths[^1], from);
    }

    /// <summary>The exec (JSON array) form only: the shell form would put `sh -c` in front and eat signals.</summary>
    public static string[]? ExecForm(DockerInstruction instruction)
    {
        try { return JsonSerializer.Deserialize<string[]>(instruction.Arguments); }
        catch (JsonException) { return null; }
    }

    /// <summary>Splits like a POSIX shell: quotes group, backslash escapes.</summary>
    public static List<string> ShellWords(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        char quote = '\0';
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quote != '\0')
            {
                if (c == quote) quote = '\0';
                else if (c == '\\' && quote == '"' && i + 1 < text.Length) word.Append(text[++i]);
                else word.Append(c);
            }
            else if (c is '"' or '\'') { quote = c; inWord = true; }
            else if (c == '\\' && i + 1 < text.Length) { word.Append(text[++i]); inWord = true; }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord) words.Add(word.ToString());
                word.Clear();
                inWord = false;
            }
            else { word.Append(c); inWord = true; }
        }
        if (inWord) words.Add(word.ToString());
        return words;
    }

    private static IEnumerable<(string Keyword, string Arguments)> Instructions(string text)
    {
        var logical = new StringBuilder();
        foreach (var raw in text.ReplaceLineEndings("\n").Split('\n'))
        {
            var line = raw.Trim();
            // Comment and blank lines are dropped even inside a continuation, as BuildKit does.
            if (line.Length == 0 || line.StartsWith('#')) continue;
            if (line.EndsWith('\\'))
            {
                logical.Append(line[..^1]).Append(' ');
                continue;
            }
            logical.Append(line);
            var instruction = logical.ToString().Trim();
            logical.Clear();
            if (instruction.Length == 0) continue;
            var space = instruction.IndexOfAny([' ', '\t']);
            yield return space < 0
                ? (instruction.ToUpperInvariant(), "")
                : (instruction[..space].ToUpperInvariant(), instruction[(space + 1)..].Trim());
        }
    }
}
