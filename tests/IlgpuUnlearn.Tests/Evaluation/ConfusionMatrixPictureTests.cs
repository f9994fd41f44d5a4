using System.Buffers.Binary;
using System.IO.Compression;
using IlgpuUnlearn.Weights;
using System.Xml.Linq;
using IlgpuUnlearn.Evaluation;

namespace IlgpuUnlearn.Tests.Evaluation;

public class ConfusionMatrixPictureTests
{
    private static UnlearningReport TenClasses()
    {
        // A CIFAR-like test set after unlearning class 3: its 1,000 images go elsewhere.
        var labels = new List<int>();
        var logits = new List<float>();
        for (int t = 0; t < 10; t++)
        {
            for (int i = 0; i < 100; i++)
            {
                int predicted = t == 3 ? (i % 2 == 0 ? 5 : 2) : (i < 90 ? t : (t + 1) % 10);
                labels.Add(t);
                logits.AddRange(Enumerable.Range(0, 10).Select(j => j == predicted ? 5f : 0f));
            }
        }
        string[] names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
        return UnlearningReport.Compute(labels.ToArray(), logits.ToArray(), 3, names);
    }

    [Fact]
    public void SvgIsWellFormedAndCarriesCountsNamesAndTitle()
    {
        var report = TenClasses();
        string svg = ConfusionMatrixSvg.Render(report);
        var document = XDocument.Parse(svg);
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", document.Root!.Name);
        var texts = document.Descendants(ns + "text").Select(t => t.Value).ToList();
        Assert.Contains("90", texts);
        Assert.Contains("50", texts);
        Assert.Contains("truck", texts);
        Assert.Contains(texts, t => t.Contains("forget class: cat", StringComparison.Ordinal));
        Assert.Equal(100, document.Descendants(ns + "rect").Count(r => r.Element(ns + "title") != null));
        // Names that need escaping stay well-formed.
        XDocument.Parse(ConfusionMatrixSvg.Render(EvaluationTestReports.Report(2)));
    }

    [Fact]
    public void PngHasValidChunksAndDecodes()
    {
        byte[] png = ConfusionMatrixPng.Render(TenClasses());
        Assert.True(png.AsSpan(0, 8).SequenceEqual(PngEncoder.Signature));
        var chunks = new List<(string Type, byte[] Data)>();
        int at = 8;
        while (at < png.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            string type = System.Text.Encoding.ASCII.GetString(png, at + 4, 4);
            var data = png.AsSpan(at + 8, length).ToArray();
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(at + 8 + length));
            Assert.Equal(Crc32.Compute(png.AsSpan(at + 4, 4), data), crc);
            chunks.Add((type, data));
            at += 12 + length;
        }
        Assert.Equal(["IHDR", "IDAT", "IEND"], chunks.Select(c => c.Type).ToArray());
        int width = BinaryPrimitives.ReadInt32BigEndian(chunks[0].Data);
        int height = BinaryPrimitives.ReadInt32BigEndian(chunks[0].Data.AsSpan(4));
        Assert.Equal((8, 2), (chunks[0].Data[8], chunks[0].Data[9]));

        using var zlib = new ZLibStream(new MemoryStream(chunks[1].Data), CompressionMode.Decompress);
        using var raw = new MemoryStream();
        zlib.CopyTo(raw);
        Assert.Equal(height * (1 + width * 3), raw.Length);
        var bytes = raw.ToArray();
        Assert.All(Enumerable.Range(0, height), y => Assert.Equal(0, bytes[y * (1 + width * 3)]));
        // The forget class's red outline is painted.
        bool red = false;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int i = y * (1 + width * 3) + 1 + x * 3;
                red |= bytes[i] == 214 && bytes[i + 1] == 39 && bytes[i + 2] == 40;
            }
        }
        Assert.True(red);
    }

    [Fact]
    public void PngCarriesTheSvgsTitleClassNamesAndAxisLabels()
    {
        var report = TenClasses();
        var (width, height, pixels) = Decode(ConfusionMatrixPng.Render(report));
        // Every text of the SVG but the cell tooltips, found in the PNG's pixels drawn with the built-in font.
        XNamespace ns = "http://www.w3.org/2000/svg";
        var svgTexts = XDocument.Parse(ConfusionMatrixSvg.Render(report)).Descendants(ns + "text").Select(t => t.Value).ToHashSet();
        // (text, written upwards, pixel size): the title and the names large, the line of numbers and the legend small.
        (string Text, bool Upwards, int Scale)[] expected =
        [
            ("Confusion matrix, forget class: cat", false, 2), (svgTexts.Single(t => t.StartsWith("forget acc ", StringComparison.Ordinal)), false, 1),
            ("predicted class", false, 2), ("true class", true, 2), ("acc", false, 2), ("truck", false, 2), ("automobile", false, 2),
            ("truck", true, 1), ("automobile", true, 1), ("90", false, 2), ("50", false, 2), ("90.0%", false, 2),
            ("cell colour: fraction of the row (true class); red outline: forget class", false, 1),
        ];
        foreach (var (text, upwards, scale) in expected)
        {
            Assert.Contains(text, svgTexts);
            Assert.True(Finds(width, height, pixels, text, upwards, scale), $"the PNG does not show '{text}'");
        }
        // The forget class's name is red on both axes, as in the SVG.
        Assert.True(Finds(width, height, pixels, "cat", upwards: false, scale: 2, ConfusionMatrixColours.Highlight));
        Assert.True(Finds(width, height, pixels, "cat", upwards: true, scale: 1, ConfusionMatrixColours.Highlight));
        Assert.False(Finds(width, height, pixels, "not drawn", upwards: false, scale: 2));
    }

    /// <summary>Whether <paramref name="text"/> is drawn somewhere at <paramref name="scale"/>, across or upwards, in the ink given (default: any one colour).</summary>
    private static bool Finds(int width, int height, byte[][] pixels, string text, bool upwards, int scale, (byte R, byte G, byte B)? ink = null)
    {
        // The glyph pixels of the text, as (dx, dy) offsets: across from the top-left, upwards from the bottom-left.
        var on = new List<(int, int)>();
        var off = new List<(int, int)>();
        for (int i = 0; i < text.Length; i++)
            for (int row = 0; row < PixelFont.GlyphHeight; row++)
                for (int col = 0; col < PixelFont.GlyphWidth; col++)
                {
                    int along = (i * PixelFont.Advance + col) * scale, across = row * scale;
                    (int, int) at = upwards ? (across, -along - scale) : (along, across);
                    (PixelFont.IsSet(text[i], col, row) ? on : off).Add(at);
                }
        // Ink and background pixels alternately, so that a wrong place fails within a few reads.
        var checks = new List<(int, int, bool)>();
        for (int i = 0; i < Math.Max(on.Count, off.Count); i++)
        {
            if (i < on.Count) checks.Add((on[i].Item1, on[i].Item2, true));
            if (i < off.Count) checks.Add((off[i].Item1, off[i].Item2, false));
        }
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var colour = Pixel(pixels, width, height, x + on[0].Item1, y + on[0].Item2);
                if (colour is null || (ink is { } want && colour != want)) continue;
                if (checks.TrueForAll(c => (Pixel(pixels, width, height, x + c.Item1, y + c.Item2) == colour) == c.Item3))
                    return true;
            }
        return false;
    }

    private static (byte, byte, byte)? Pixel(byte[][] rows, int width, int height, int x, int y) =>
        x < 0 || y < 0 || x >= width || y >= height ? null : (rows[y][3 * x], rows[y][3 * x + 1], rows[y][3 * x + 2]);

    /// <summary>The RGB rows of a PNG made by <see cref="PngEncoder"/> (filter 0 on every row).</summary>
    private static (int Width, int Height, byte[][] Rows) Decode(byte[] png)
    {
        int width = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), height = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20));
        int at = 8;
        using var idat = new MemoryStream();
        while (at < png.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            if (System.Text.Encoding.ASCII.GetString(png, at + 4, 4) == "IDAT") idat.Write(png, at + 8, length);
            at += 12 + length;
        }
        idat.Position = 0;
        using var zlib = new ZLibStream(idat, CompressionMode.Decompress);
        using var raw = new MemoryStream();
        zlib.CopyTo(raw);
        var bytes = raw.ToArray();
        var rows = Enumerable.Range(0, height).Select(y => bytes.AsSpan(y * (1 + width * 3) + 1, width * 3).ToArray()).ToArray();
        return (width, height, rows);
    }

    [Fact]
    public void Crc32MatchesTheStandardCheckValue()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
    }
}
