using System.Buffers;

namespace OmniGateway.Validation;

/// <summary>
/// Which top-level members of a body still arriving may go upstream before step 4 has judged it (issue 11,
/// target 5: validate while reading). A structural scan of the bytes so far, resumed after every read: it finds
/// each member of the top-level object, and one the enricher never rewrites (<see cref="RequestEnricher.Rewrites"/>,
/// and no escape in its name) is forwardable from its first byte, up to where the scan has got. The scan follows
/// structure (strings, nesting, separators), and on the way settles what step 4 would otherwise search the whole body
/// for again: UTF-8 validity, whether any string holds an escape, and which bytes of the long payloads in <c>input</c>
/// are base64 alphabet only, which step 4 then leaves out of what it parses (<see cref="BodySkeleton"/>). The parser
/// still judges the whole rest of the body once it is in. Where the scan sees what JSON does not allow it stops, and
/// nothing after that point is forwarded.
/// </summary>
public sealed class ForwardableMembers
{
    /// <summary>A forwardable member: from its name's opening quote, <see cref="NameEnd"/> just past its closing one, to <see cref="End"/>.</summary>
    public readonly record struct Segment(int Start, int NameEnd, int End);

    private enum State : byte { BeforeObject, BeforeFirstName, BeforeName, InName, AfterName, BeforeValue, InString, InNested, InNestedString, InScalar, AfterValue, Done, Stopped }

    /// <summary>Nesting a member's value may reach before the scan stops (the parser allows 64 with the root).</summary>
    private const int MaxNesting = 63;

    private static readonly SearchValues<byte> StringStops = SearchValues.Create("\"\\"u8);
    // '/' and '\'' never appear outside a JSON string: a lenient parser upstream would read a comment or a single-quoted
    // string there, and might then see the object close where this scan does not. The scan stops at them.
    private static readonly SearchValues<byte> NestedStops = SearchValues.Create("\"{}[]/'"u8);
    private static readonly SearchValues<byte> ScalarStops = SearchValues.Create(",} \t\r\n\"{}[]:/'"u8);
    private static readonly SearchValues<byte> Whitespace = SearchValues.Create(" \t\r\n"u8);
    private static readonly SearchValues<byte> Base64Alphabet = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"u8);

    private readonly List<Segment> _segments = [];
    private State _state;
    private int _scanned;
    private int _nameStart, _nameEnd, _valueEnd;
    private bool _nameEscaped, _escapePending;
    private ulong _arrays; // bit n: nesting level n+1 is an array (else an object)
    private int _nesting;
    private bool _sawEscape;
    private readonly List<(int From, int Length, int Close)> _alphabetRuns = []; // Close: the string's closing quote
    private bool _inInput; // the member being scanned is "input", and forwarded
    private int _stringStart, _base64From, _base64Checked; // the string being scanned; _base64From -1: not known yet
    private bool _base64Broken, _stringEscaped;
    private int _utf8Checked, _length;
    private bool _utf8Invalid;
    private int _asciiFrom, _asciiEnd; // this read's longest stretch of base64 alphabet: ASCII, which the UTF-8 check skips

    /// <summary>Forwardable members found so far; the last one may still be arriving (<see cref="LastIsOpen"/>).</summary>
    public int Count => _segments.Count;

    /// <summary>The last segment's member has not ended yet: its <see cref="Segment.End"/> is as far as the scan has got.</summary>
    public bool LastIsOpen { get; private set; }

    /// <summary>
    /// Every forwarded member ended where the parser will see it end: the body's object closed, or the scan stopped
    /// between members. Only then may the rest of the body be written as the members not forwarded.
    /// </summary>
    public bool EndsOnMemberBoundary => !LastIsOpen && _state is State.Done or State.Stopped;

    public Segment this[int index] => _segments[index];

    /// <summary>Every byte so far is valid UTF-8, checked as it arrived: the validator need not check the whole body again.</summary>
    public bool KnownValidUtf8 => !_utf8Invalid && _utf8Checked == _length;

    /// <summary>
    /// What <see cref="BodySkeleton"/> may leave out of <paramref name="body"/> (the whole body, once it is in): in each
    /// string value of <c>input</c> without an escape, whole 4-byte groups of base64 alphabet only, after the payload's
    /// first <see cref="KeptHeadBytes"/> and before its last group (which may carry padding), where they are at least
    /// <see cref="LeftOutFromBytes"/>. Member names are never left out (two could become one).
    /// </summary>
    public IEnumerable<(int From, int Length)> AlphabetRuns(ReadOnlySpan<byte> body)
    {
        List<(int From, int Length)>? runs = null;
        foreach (var (from, length, close) in _alphabetRuns)
        {
            var next = SkipWhitespace(body, close + 1);
            if (next < body.Length && body[next] == ':') continue; // a name in a nested object
            (runs ??= []).Add((from, length));
        }
        return runs ?? [];
    }

    /// <summary>The scan read the whole object and no string in it holds a backslash: no escape to decode or check.</summary>
    public bool KnownFreeOfEscapes => _state == State.Done && !_sawEscape;

    /// <summary>Whether a member with this (unescaped) raw name was forwarded: names are unique, or the parser refuses the body.</summary>
    public bool Forwarded(ReadOnlySpan<byte> body, ReadOnlySpan<byte> rawName)
    {
        foreach (var segment in _segments)
        {
            if (body[(segment.Start + 1)..(segment.NameEnd - 1)].SequenceEqual(rawName)) return true;
        }
        return false;
    }

    /// <summary>Scans what arrived since the last call; <paramref name="body"/> is the whole body so far.</summary>
    public void Scan(ReadOnlySpan<byte> body)
    {
        (_asciiFrom, _asciiEnd) = (0, 0);
        var i = _scanned;
        while (i < body.Length && _state is not (State.Done or State.Stopped))
        {
            switch (_state)
            {
                case State.BeforeObject:
                    if ((i = SkipWhitespace(body, i)) == body.Length) break;
                    if (body[i++] == '{') _state = State.BeforeFirstName;
                    else Stop();
                    break;
                case State.BeforeFirstName or State.BeforeName:
                    if ((i = SkipWhitespace(body, i)) == body.Length) break;
                    if (body[i] == '"')
                    {
                        (_nameStart, _nameEscaped, _state) = (i++, false, State.InName);
                    }
                    else if (body[i] == '}' && _state == State.BeforeFirstName)
                    {
                        i++;
                        _state = State.Done;
                    }
                    else
                    {
                        Stop();
                    }
                    break;
                case State.InName:
                    if (!ScanString(body, ref i, ref _nameEscaped)) break;
                    (_nameEnd, _state) = (i, State.AfterName);
                    break;
                case State.AfterName:
                    if ((i = SkipWhitespace(body, i)) == body.Length) break;
                    if (body[i++] == ':') _state = State.BeforeValue;
                    else Stop();
                    break;
                case State.BeforeValue:
                    if ((i = SkipWhitespace(body, i)) == body.Length) break;
                    var first = body[i];
                    if (first is (byte)'}' or (byte)']' or (byte)',' or (byte)':' or (byte)'/' or (byte)'\'')
                    {
                        Stop();
                        break;
                    }
                    // While this member lasts, LastIsOpen says whether it is forwarded.
                    var name = body[(_nameStart + 1)..(_nameEnd - 1)];
                    _inInput = false;
                    if (!_nameEscaped && !RequestEnricher.Rewrites(name, first))
                    {
                        _segments.Add(new Segment(_nameStart, _nameEnd, i));
                        LastIsOpen = true;
                        _inInput = name.SequenceEqual("input"u8); // where the payloads are, and only forwarded there
                    }
                    if (first == '"')
                    {
                        BeginString(++i);
                        _state = State.InString;
                    }
                    else if (first is (byte)'{' or (byte)'[')
                    {
                        i++;
                        (_nesting, _arrays, _state) = (1, first == '[' ? 1UL : 0UL, State.InNested);
                    }
                    else
                    {
                        _state = State.InScalar;
                    }
                    break;
                case State.InString:
                    if (!ScanValueString(body, ref i)) break;
                    EndValue(i);
                    break;
                case State.InNested:
                    if (!SkipTo(body, ref i, NestedStops)) break;
                    var token = body[i++];
                    if (token == '"')
                    {
                        BeginString(i);
                        _state = State.InNestedString;
                    }
                    else if (token is (byte)'/' or (byte)'\'')
                    {
                        Stop();
                    }
                    else if (token is (byte)'{' or (byte)'[')
                    {
                        if (_nesting == MaxNesting)
                        {
                            Stop();
                            break;
                        }
                        if (token == '[') _arrays |= 1UL << _nesting;
                        else _arrays &= ~(1UL << _nesting);
                        _nesting++;
                    }
                    else
                    {
                        var closesArray = (_arrays & (1UL << (_nesting - 1))) != 0;
                        if (closesArray != (token == ']'))
                        {
                            Stop();
                            break;
                        }
                        if (--_nesting == 0) EndValue(i);
                    }
                    break;
                case State.InNestedString:
                    if (ScanValueString(body, ref i)) _state = State.InNested;
                    break;
                case State.InScalar:
                    if (!SkipTo(body, ref i, ScalarStops)) break;
                    if (body[i] is (byte)',' or (byte)'}' or (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') EndValue(i);
                    else Stop();
                    break;
                case State.AfterValue:
                    if ((i = SkipWhitespace(body, i)) == body.Length) break;
                    var separator = body[i++];
                    if (separator is not ((byte)',' or (byte)'}'))
                    {
                        Stop();
                        break;
                    }
                    if (LastIsOpen)
                    {
                        _segments[^1] = _segments[^1] with { End = _valueEnd };
                        LastIsOpen = false;
                    }
                    _state = separator == ',' ? State.BeforeName : State.Done;
                    break;
            }
        }
        _scanned = i;
        CheckUtf8(body);
        // A member still arriving is forwardable as far as it has been scanned (its value ends at _valueEnd once scanned).
        if (LastIsOpen && _state != State.Stopped) _segments[^1] = _segments[^1] with { End = _state == State.AfterValue ? _valueEnd : Math.Min(i, body.Length) };
    }

    private void EndValue(int end) => (_valueEnd, _state) = (end, State.AfterValue);

    /// <summary>
    /// The scan goes no further. A member being forwarded stays open, so the body is never completed from here: the
    /// parser will refuse it, and if not, the call is forwarded the ordinary way.
    /// </summary>
    private void Stop() => _state = State.Stopped;

    /// <summary>The first bytes of a payload's base64 always parsed: the rules decode the first 24 for its container signature.</summary>
    public const int KeptHeadBytes = 64;

    /// <summary>Runs shorter than this are parsed with the rest: leaving them out would save less than it costs.</summary>
    public const int LeftOutFromBytes = 4096;

    private void BeginString(int contentStart) =>
        (_stringStart, _base64From, _base64Checked, _base64Broken, _stringEscaped) = (contentStart, -1, contentStart, !_inInput, false);

    /// <summary>
    /// A string inside a member's value, as <see cref="ScanString"/>, its base64 alphabet followed as far as it has arrived.
    /// Alphabet bytes hold no quote, no backslash and nothing above 0x7F, so the string scan and the UTF-8 check skip what
    /// the alphabet search has read: one pass over a 9 MiB payload instead of three.
    /// </summary>
    private bool ScanValueString(ReadOnlySpan<byte> body, ref int i)
    {
        var alphabetEnd = -1;
        if (!_base64Broken && _base64From >= 0) // not broken: no escape so far, none pending
        {
            alphabetEnd = AlphabetEnd(body, _base64Checked, body.Length);
            if (alphabetEnd > i)
            {
                if (alphabetEnd - i > _asciiEnd - _asciiFrom) (_asciiFrom, _asciiEnd) = (i, alphabetEnd);
                i = alphabetEnd;
            }
        }
        var escaped = false;
        var closed = ScanString(body, ref i, ref escaped);
        if (escaped) _base64Broken = _stringEscaped = true; // escaped base64 is decoded by the rules, and its length with it
        if (!_base64Broken) CheckBase64(body, closed ? i - 1 : i, alphabetEnd);
        if (closed && !_stringEscaped && _base64From >= 0 && _base64Checked - _base64From - KeptHeadBytes >= LeftOutFromBytes)
            _alphabetRuns.Add((_base64From + KeptHeadBytes, _base64Checked - _base64From - KeptHeadBytes, i - 1));
        return closed;
    }

    /// <summary>
    /// How far the string's base64 (all of it, or what follows a <c>data:…,</c> header) is alphabet only, in whole 4-byte
    /// groups from its start; the last group is held back (it may carry padding). The first byte outside the alphabet
    /// (padding, whitespace, anything else) ends the run: what follows is the rules' to judge, parsed with the rest.
    /// </summary>
    /// <param name="alphabetEnd">Where the alphabet-only bytes from the last check end, when already searched; -1: not yet.</param>
    private void CheckBase64(ReadOnlySpan<byte> body, int contentEnd, int alphabetEnd)
    {
        if (_base64From < 0)
        {
            var content = body[_stringStart..contentEnd];
            if (content.Length < 5) return; // not yet known whether a data: header comes first (and too short to matter)
            if (System.Text.Ascii.EqualsIgnoreCase(content[..5], "data:"u8))
            {
                // The base64 starts after the first comma, as InlineMedia.Classify reads it; searched once, not per read.
                var comma = body[_base64Checked..contentEnd].IndexOf((byte)',');
                if (comma < 0)
                {
                    _base64Checked = contentEnd;
                    return;
                }
                _base64From = _base64Checked = _base64Checked + comma + 1;
            }
            else
            {
                _base64From = _base64Checked = _stringStart;
            }
        }
        var upTo = _base64From + Math.Max(0, contentEnd - 4 - _base64From) / 4 * 4;
        if (upTo <= _base64Checked) return;
        if (alphabetEnd < 0) alphabetEnd = AlphabetEnd(body, _base64Checked, upTo);
        if (alphabetEnd >= upTo)
        {
            _base64Checked = upTo;
            return;
        }
        _base64Checked += (alphabetEnd - _base64Checked) / 4 * 4;
        _base64Broken = true;
    }

    /// <summary>Where the base64 alphabet bytes from <paramref name="from"/> end: at the first other byte, else <paramref name="to"/>.</summary>
    private static int AlphabetEnd(ReadOnlySpan<byte> body, int from, int to)
    {
        var outside = body[from..to].IndexOfAnyExcept(Base64Alphabet);
        return outside < 0 ? to : from + outside;
    }

    /// <summary>Inside a string, after its opening quote: true with <paramref name="i"/> past the closing quote; false when the bytes so far end first.</summary>
    private bool ScanString(ReadOnlySpan<byte> body, ref int i, ref bool escaped)
    {
        while (true)
        {
            if (_escapePending)
            {
                if (i == body.Length) return false;
                i++; // the escaped byte; a \u escape's hex digits hold no quote or backslash
                _escapePending = false;
            }
            if (!SkipTo(body, ref i, StringStops)) return false;
            if (body[i++] == '"') return true;
            escaped = _sawEscape = true;
            _escapePending = true;
        }
    }

    /// <summary>
    /// UTF-8 validity of what arrived, up to the start of a sequence the bytes so far cut short: valid UTF-8 cut before a
    /// non-continuation byte is valid in each piece, and invalid UTF-8 is invalid in one of them.
    /// </summary>
    private void CheckUtf8(ReadOnlySpan<byte> body)
    {
        _length = body.Length;
        if (_utf8Invalid) return;
        // A stretch of base64 alphabet is ASCII: valid, when it starts where the check has got (a read that begins inside a payload).
        if (_asciiEnd > _asciiFrom && _asciiFrom == _utf8Checked) _utf8Checked = _asciiEnd;
        var end = body.Length;
        var lead = end - 1;
        while (lead > _utf8Checked && lead > end - 4 && (body[lead] & 0xC0) == 0x80) lead--;
        if (lead >= _utf8Checked && lead < end && body[lead] >= 0xC0)
        {
            var needed = body[lead] >= 0xF0 ? 4 : body[lead] >= 0xE0 ? 3 : 2;
            if (lead + needed > end) end = lead; // the sequence is still arriving
        }
        if (end <= _utf8Checked) return;
        if (System.Text.Unicode.Utf8.IsValid(body[_utf8Checked..end])) _utf8Checked = end;
        else _utf8Invalid = true;
    }

    /// <summary>Moves <paramref name="i"/> to the next of <paramref name="stops"/>: false, at the end, when the bytes so far hold none.</summary>
    private static bool SkipTo(ReadOnlySpan<byte> body, ref int i, SearchValues<byte> stops)
    {
        var stop = body[i..].IndexOfAny(stops);
        i = stop < 0 ? body.Length : i + stop;
        return stop >= 0;
    }

    private static int SkipWhitespace(ReadOnlySpan<byte> body, int i)
    {
        var content = body[i..].IndexOfAnyExcept(Whitespace);
        return content < 0 ? body.Length : i + content;
    }
}
