using System.Globalization;
using SkiaSharp;

namespace DistTrainer.Cli.Run;

/// <summary>One epoch's point on the learning curves. Missing values (NaN) are left out of the line.</summary>
public readonly record struct CurvePoint(int Epoch, double TrainLoss, double TestLoss, double TrainMetric, double TestMetric);

/// <summary>
/// Renders curves.png: training and test loss against epoch on the left, accuracy (classification) or RMSE
/// (regression) on the right. Pure SkiaSharp with a built-in pixel font, so it needs no display and no system fonts.
/// </summary>
public static class CurvesPlot
{
    public const int Width = 1200;
    public const int Height = 480;

    private const float TextScale = 2f;
    private static readonly SKColor _trainColor = new(0x1f, 0x77, 0xb4);
    private static readonly SKColor _testColor = new(0xff, 0x7f, 0x0e);

    /// <summary>Writes the plot; <paramref name="lossName"/> titles the left panel (an RBM plots its reconstruction error there).</summary>
    public static void Save(string path, IReadOnlyList<CurvePoint> points, string metricName, string lossName = "loss")
    {
        var png = Render(points, metricName, lossName);
        File.WriteAllBytes(path, png);
    }

    public static byte[] Render(IReadOnlyList<CurvePoint> points, string metricName, string lossName = "loss")
    {
        using var bitmap = new SKBitmap(Width, Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.White);
            var half = Width / 2f;
            DrawPanel(canvas, new SKRect(0, 0, half, Height), lossName, points, p => p.TrainLoss, p => p.TestLoss);
            DrawPanel(canvas, new SKRect(half, 0, Width, Height), metricName, points, p => p.TrainMetric, p => p.TestMetric);
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static void DrawPanel(SKCanvas canvas, SKRect area, string title, IReadOnlyList<CurvePoint> points,
        Func<CurvePoint, double> train, Func<CurvePoint, double> test)
    {
        using var ink = new SKPaint { Color = new SKColor(0x22, 0x22, 0x22), IsAntialias = false, Style = SKPaintStyle.Fill };
        using var grid = new SKPaint { Color = new SKColor(0xe4, 0xe4, 0xe4), StrokeWidth = 1, Style = SKPaintStyle.Stroke };
        using var frame = new SKPaint { Color = new SKColor(0x55, 0x55, 0x55), StrokeWidth = 1, Style = SKPaintStyle.Stroke };

        var plot = new SKRect(area.Left + 90, area.Top + 50, area.Right - 30, area.Bottom - 60);
        BitmapFont.Draw(canvas, title, plot.MidX - BitmapFont.Measure(title, TextScale) / 2, area.Top + 18, TextScale, ink);
        const string xLabel = "epoch";
        BitmapFont.Draw(canvas, xLabel, plot.MidX - BitmapFont.Measure(xLabel, TextScale) / 2, area.Bottom - 24, TextScale, ink);

        var values = points.SelectMany(p => new[] { train(p), test(p) }).Where(double.IsFinite).ToArray();
        var (yMin, yMax) = values.Length == 0 ? (0d, 1d) : (values.Min(), values.Max());
        if (yMax - yMin < 1e-9)
        {
            (yMin, yMax) = (yMin - 0.5, yMax + 0.5);
        }
        var pad = (yMax - yMin) * 0.05;
        (yMin, yMax) = (yMin - pad, yMax + pad);
        var xMin = points.Count == 0 ? 1 : points.Min(p => p.Epoch);
        var xMax = points.Count == 0 ? 2 : Math.Max(points.Max(p => p.Epoch), xMin + 1);

        float X(double epoch) => plot.Left + (float)((epoch - xMin) / (xMax - xMin)) * plot.Width;
        float Y(double value) => plot.Bottom - (float)((value - yMin) / (yMax - yMin)) * plot.Height;

        foreach (var tick in Ticks(yMin, yMax, 6))
        {
            var y = Y(tick);
            canvas.DrawLine(plot.Left, y, plot.Right, y, grid);
            var label = FormatTick(tick, yMax - yMin);
            BitmapFont.Draw(canvas, label, plot.Left - 10 - BitmapFont.Measure(label, TextScale), y - BitmapFont.Height(TextScale) / 2, TextScale, ink);
        }
        foreach (var tick in Ticks(xMin, xMax, 8).Where(t => Math.Abs(t - Math.Round(t)) < 1e-9))
        {
            var x = X(tick);
            canvas.DrawLine(x, plot.Top, x, plot.Bottom, grid);
            var label = ((int)Math.Round(tick)).ToString(CultureInfo.InvariantCulture);
            BitmapFont.Draw(canvas, label, x - BitmapFont.Measure(label, TextScale) / 2, plot.Bottom + 10, TextScale, ink);
        }
        canvas.DrawRect(plot, frame);

        canvas.Save();
        canvas.ClipRect(plot);
        DrawSeries(canvas, points, train, X, Y, _trainColor);
        DrawSeries(canvas, points, test, X, Y, _testColor);
        canvas.Restore();

        // The legend goes to the corner away from where the curves end, so it does not hide them.
        var lastValue = points.Count == 0 ? double.NaN : train(points[^1]);
        DrawLegend(canvas, plot, ink, bottom: double.IsFinite(lastValue) && Y(lastValue) < plot.MidY);
    }

    private static void DrawSeries(SKCanvas canvas, IReadOnlyList<CurvePoint> points, Func<CurvePoint, double> value,
        Func<double, float> x, Func<double, float> y, SKColor color)
    {
        using var line = new SKPaint { Color = color, StrokeWidth = 2.5f, IsAntialias = true, Style = SKPaintStyle.Stroke, StrokeCap = SKStrokeCap.Round };
        using var dot = new SKPaint { Color = color, IsAntialias = true, Style = SKPaintStyle.Fill };
        SKPoint? previous = null;
        foreach (var p in points)
        {
            var v = value(p);
            if (!double.IsFinite(v))
            {
                previous = null;
                continue;
            }
            var current = new SKPoint(x(p.Epoch), y(v));
            if (previous is { } from)
            {
                canvas.DrawLine(from, current, line);
            }
            if (points.Count <= 60)
            {
                canvas.DrawCircle(current, 3.5f, dot);
            }
            previous = current;
        }
    }

    private static void DrawLegend(SKCanvas canvas, SKRect plot, SKPaint ink, bool bottom)
    {
        using var background = new SKPaint { Color = new SKColor(255, 255, 255, 230), Style = SKPaintStyle.Fill };
        using var border = new SKPaint { Color = new SKColor(0xbb, 0xbb, 0xbb), Style = SKPaintStyle.Stroke, StrokeWidth = 1 };
        var top = bottom ? plot.Bottom - 62 : plot.Top + 10;
        var box = new SKRect(plot.Right - 120, top, plot.Right - 10, top + 52);
        canvas.DrawRect(box, background);
        canvas.DrawRect(box, border);
        var entries = new[] { ("train", _trainColor), ("test", _testColor) };
        for (var i = 0; i < entries.Length; i++)
        {
            var y = box.Top + 16 + i * 20;
            using var swatch = new SKPaint { Color = entries[i].Item2, StrokeWidth = 3, Style = SKPaintStyle.Stroke };
            canvas.DrawLine(box.Left + 10, y, box.Left + 34, y, swatch);
            BitmapFont.Draw(canvas, entries[i].Item1, box.Left + 42, y - BitmapFont.Height(TextScale) / 2, TextScale, ink);
        }
    }

    /// <summary>About <paramref name="count"/> round tick values (1, 2 or 5 times a power of ten) inside [min, max].</summary>
    internal static IEnumerable<double> Ticks(double min, double max, int count)
    {
        var raw = (max - min) / count;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var step = (raw / magnitude) switch { < 1.5 => magnitude, < 3 => 2 * magnitude, < 7 => 5 * magnitude, _ => 10 * magnitude };
        for (var t = Math.Ceiling(min / step) * step; t <= max + step * 1e-9; t += step)
        {
            yield return Math.Abs(t) < step * 1e-9 ? 0 : t;
        }
    }

    private static string FormatTick(double value, double range)
    {
        var decimals = Math.Clamp((int)Math.Ceiling(-Math.Log10(range / 6)) + 1, 0, 6);
        return value.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }
}
