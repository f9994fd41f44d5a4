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
    public void Crc32MatchesTheStandardCheckValue()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
    }
}
