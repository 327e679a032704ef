using System.Globalization;

namespace DistTrainer.Cli;

/// <summary>A mistake in how the program was called. Printed as one line, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>One option a command accepts: its name without dashes, whether it takes a value, and its help text.</summary>
public sealed record OptionSpec(string Name, string Help, bool TakesValue = true, bool Repeatable = false, string? Default = null);

/// <summary>
/// The options of one command, parsed strictly: an unknown option, a missing value or a malformed number is a
/// <see cref="UsageException"/> that names the option and what was expected.
/// </summary>
public sealed class ParsedOptions
{
    private readonly string _command;
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);

    private ParsedOptions(string command) => _command = command;

    public IReadOnlyList<string> Positionals { get; private set; } = [];

    public static ParsedOptions Parse(string command, IReadOnlyList<string> args, IReadOnlyList<OptionSpec> specs)
    {
        var parsed = new ParsedOptions(command);
        var positionals = new List<string>();
        var byName = specs.ToDictionary(s => s.Name, StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                positionals.Add(arg);
                continue;
            }
            var name = arg[2..];
            string? inlineValue = null;
            var eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                inlineValue = name[(eq + 1)..];
                name = name[..eq];
            }
            if (!byName.TryGetValue(name, out var spec))
            {
                throw new UsageException($"unknown option --{name} for '{command}'; run 'disttrainer {command} --help' for the list");
            }
            if (!spec.TakesValue)
            {
                if (inlineValue is not null)
                {
                    throw new UsageException($"option --{name} takes no value");
                }
                parsed.Add(spec, "true");
                continue;
            }
            var value = inlineValue;
            if (value is null)
            {
                if (i + 1 >= args.Count || (args[i + 1].StartsWith("--", StringComparison.Ordinal) && args[i + 1].Length > 2))
                {
                    throw new UsageException($"option --{name} needs a value");
                }
                value = args[++i];
            }
            parsed.Add(spec, value);
        }
        parsed.Positionals = positionals;
        return parsed;
    }

    public bool Has(string name) => _values.ContainsKey(name);

    public bool Flag(string name) => _values.ContainsKey(name);

    public string? String(string name) => _values.TryGetValue(name, out var v) ? v[^1] : null;

    public string String(string name, string fallback) => String(name) ?? fallback;

    public IReadOnlyList<string> All(string name) => _values.TryGetValue(name, out var v) ? v : [];

    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        var text = String(name);
        if (text is null)
        {
            return fallback;
        }
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            throw new UsageException($"--{name} expects a whole number, got \"{text}\"");
        }
        return CheckRange(name, value, min, max);
    }

    public float Float(string name, float fallback, float min = float.MinValue, float max = float.MaxValue)
    {
        var text = String(name);
        if (text is null)
        {
            return fallback;
        }
        if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !float.IsFinite(value))
        {
            throw new UsageException($"--{name} expects a number, got \"{text}\"");
        }
        if (value < min || value > max)
        {
            throw new UsageException($"--{name} must be between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)}, got {text}");
        }
        return value;
    }

    /// <summary>A comma-separated list of positive integers, e.g. --hidden 256,128. An empty string or "none" is an empty list.</summary>
    public int[] IntList(string name, int[] fallback)
    {
        var text = String(name);
        if (text is null)
        {
            return fallback;
        }
        if (text.Length == 0 || text.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            return [];
        }
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var result = new int[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out result[i]) || result[i] < 1)
            {
                throw new UsageException($"--{name} expects a comma-separated list of positive whole numbers, got \"{text}\"");
            }
        }
        return result;
    }

    public T Choice<T>(string name, T fallback, IReadOnlyDictionary<string, T> choices)
    {
        var text = String(name);
        if (text is null)
        {
            return fallback;
        }
        if (!choices.TryGetValue(text.ToLowerInvariant(), out var value))
        {
            throw new UsageException($"--{name} expects one of {string.Join(", ", choices.Keys)}, got \"{text}\"");
        }
        return value;
    }

    public void NoPositionals()
    {
        if (Positionals.Count > 0)
        {
            throw new UsageException($"unexpected argument \"{Positionals[0]}\" for '{_command}'");
        }
    }

    public static string Help(string usage, string summary, IReadOnlyList<OptionSpec> specs)
    {
        var lines = new List<string> { $"usage: {usage}", "", summary, "", "options:" };
        foreach (var spec in specs)
        {
            var left = spec.TakesValue ? $"--{spec.Name} VALUE" : $"--{spec.Name}";
            var right = spec.Default is null ? spec.Help : $"{spec.Help} (default: {spec.Default})";
            lines.Add($"  {left,-26} {right}");
        }
        return string.Join(Environment.NewLine, lines);
    }

    private static int CheckRange(string name, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            var range = max == int.MaxValue ? $"at least {min}" : $"between {min} and {max}";
            throw new UsageException($"--{name} must be {range}, got {value}");
        }
        return value;
    }

    private void Add(OptionSpec spec, string value)
    {
        if (!_values.TryGetValue(spec.Name, out var list))
        {
            _values[spec.Name] = list = [];
        }
        else if (!spec.Repeatable)
        {
            throw new UsageException($"option --{spec.Name} given more than once");
        }
        list.Add(value);
    }
}
