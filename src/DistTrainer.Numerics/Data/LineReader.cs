namespace DistTrainer.Numerics.Data;

/// <summary>
/// Reads lines from a <see cref="TextReader"/> as spans over one reused buffer, so parsing a large file allocates no
/// string per line. A returned line is valid only until the next call. Accepts "\n" and "\r\n" endings.
/// </summary>
internal sealed class LineReader
{
    private readonly TextReader _reader;
    private char[] _buffer;
    private int _start;
    private int _end;
    // Where the search for '\n' resumes after a refill, so a very long line is not rescanned from its start.
    private int _scanned;
    private bool _eof;

    public LineReader(TextReader reader, int bufferSize = 1 << 16)
    {
        _reader = reader;
        _buffer = new char[bufferSize];
    }

    /// <summary>1-based number of the line last returned; 0 before the first.</summary>
    public int LineNumber { get; private set; }

    public bool TryReadLine(out ReadOnlySpan<char> line)
    {
        while (true)
        {
            var newline = _buffer.AsSpan(_scanned, _end - _scanned).IndexOf('\n');
            if (newline >= 0)
            {
                var length = _scanned - _start + newline;
                line = TrimCarriageReturn(_buffer.AsSpan(_start, length));
                _start += length + 1;
                _scanned = _start;
                LineNumber++;
                return true;
            }
            if (_eof)
            {
                if (_start < _end)
                {
                    line = TrimCarriageReturn(_buffer.AsSpan(_start, _end - _start));
                    _start = _scanned = _end;
                    LineNumber++;
                    return true;
                }
                line = default;
                return false;
            }
            Refill();
        }
    }

    private void Refill()
    {
        _scanned = _end;
        if (_start > 0)
        {
            // Move the unfinished line to the front of the buffer.
            var pending = _end - _start;
            Array.Copy(_buffer, _start, _buffer, 0, pending);
            _scanned -= _start;
            _start = 0;
            _end = pending;
        }
        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }
        var read = _reader.Read(_buffer, _end, _buffer.Length - _end);
        if (read == 0)
        {
            _eof = true;
        }
        _end += read;
    }

    private static ReadOnlySpan<char> TrimCarriageReturn(ReadOnlySpan<char> line) =>
        line.Length > 0 && line[^1] == '\r' ? line[..^1] : line;
}
