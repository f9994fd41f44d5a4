using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;

namespace IlgpuUnlearn.Tests.Support;

/// <summary>
/// An SVG picture as a renderer draws it: rsvg-convert (librsvg, Debian's librsvg2-bin, which scripts/test-setup.sh installs) turns
/// it into a PNG, read here into pixels, so that a test can check where ink fell (what is cut at the picture's edge).
/// </summary>
internal sealed class RenderedPicture
{
    public int Width { get; }
    public int Height { get; }
    readonly byte[] rgba;

    RenderedPicture(int width, int height, byte[] rgba) => (Width, Height, this.rgba) = (width, height, rgba);

    /// <summary>Renders <paramref name="svg"/> at its own size. Fails the test, saying how to install it, when rsvg-convert is missing.</summary>
    public static RenderedPicture Render(string svg)
    {
        string folder = Directory.CreateTempSubdirectory("render-").FullName;
        try
        {
            string input = Path.Combine(folder, "in.svg"), output = Path.Combine(folder, "out.png");
            File.WriteAllText(input, svg);
            Process process;
            try
            {
                process = Process.Start(new ProcessStartInfo("rsvg-convert", ["-f", "png", "-o", output, input]) { RedirectStandardError = true })!;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                throw new InvalidOperationException("rsvg-convert not found: bash scripts/test-setup.sh installs it (Debian's librsvg2-bin)");
            }
            string errors = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"rsvg-convert failed: {errors}");
            return Decode(File.ReadAllBytes(output));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The smallest rectangle holding every pixel that is not white (a drawn mark), as (left, top, right, bottom), inclusive.</summary>
    public (int Left, int Top, int Right, int Bottom) InkBounds()
    {
        int left = Width, top = Height, right = -1, bottom = -1;
        for (int y = 0; y < Height; y++)
            for (int x = 0; x < Width; x++)
            {
                int i = 4 * (y * Width + x);
                // Ink: any channel visibly below white on an opaque pixel (anti-aliasing leaves 250+ on the edge of a stroke).
                if (rgba[i + 3] < 128 || (rgba[i] > 245 && rgba[i + 1] > 245 && rgba[i + 2] > 245)) continue;
                left = Math.Min(left, x); right = Math.Max(right, x); top = Math.Min(top, y); bottom = Math.Max(bottom, y);
            }
        return (left, top, right, bottom);
    }

    /// <summary>Whether any ink lies in columns [x0, x1] of rows [y0, y1].</summary>
    public bool HasInk(int x0, int y0, int x1, int y1)
    {
        for (int y = Math.Max(0, y0); y <= Math.Min(Height - 1, y1); y++)
            for (int x = Math.Max(0, x0); x <= Math.Min(Width - 1, x1); x++)
            {
                int i = 4 * (y * Width + x);
                if (rgba[i + 3] >= 128 && (rgba[i] <= 245 || rgba[i + 1] <= 245 || rgba[i + 2] <= 245)) return true;
            }
        return false;
    }

    /// <summary>A PNG of 8-bit RGB or RGBA, not interlaced (what rsvg-convert writes): IHDR, the IDAT zlib stream, the five filters.</summary>
    static RenderedPicture Decode(byte[] png)
    {
        int at = 8, width = 0, height = 0, colourType = 0;
        using var idat = new MemoryStream();
        while (at < png.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            string type = System.Text.Encoding.ASCII.GetString(png, at + 4, 4);
            var data = png.AsSpan(at + 8, length);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                Assert.Equal(8, data[8]);       // bit depth
                colourType = data[9];
                Assert.Contains(colourType, new[] { 2, 6 });
                Assert.Equal(0, data[12]);      // not interlaced
            }
            else if (type == "IDAT") idat.Write(data);
            at += 12 + length;
        }
        int channels = colourType == 6 ? 4 : 3, stride = width * channels;
        var raw = new MemoryStream();
        idat.Position = 0;
        using (var z = new ZLibStream(idat, CompressionMode.Decompress)) z.CopyTo(raw);
        byte[] bytes = raw.ToArray(), previous = new byte[stride], line = new byte[stride];
        var rgba = new byte[width * height * 4];
        for (int y = 0; y < height; y++)
        {
            int filter = bytes[y * (stride + 1)];
            Array.Copy(bytes, y * (stride + 1) + 1, line, 0, stride);
            for (int i = 0; i < stride; i++)
            {
                int a = i >= channels ? line[i - channels] : 0, b = previous[i], c = i >= channels ? previous[i - channels] : 0;
                int predictor = filter switch
                {
                    0 => 0, 1 => a, 2 => b, 3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new InvalidDataException($"PNG filter {filter}"),
                };
                line[i] = (byte)(line[i] + predictor);
            }
            for (int x = 0; x < width; x++)
            {
                for (int ch = 0; ch < 3; ch++) rgba[4 * (y * width + x) + ch] = line[x * channels + ch];
                rgba[4 * (y * width + x) + 3] = channels == 4 ? line[x * channels + 3] : (byte)255;
            }
            (previous, line) = (line, previous);
        }
        return new RenderedPicture(width, height, rgba);
    }

    static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
