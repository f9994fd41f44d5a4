using IlgpuUnlearn.Data;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tests.Data;

namespace IlgpuUnlearn.Tests.Evaluation;

/// <summary>The per-sample outputs cache: the same outputs back, keys that change with what they name, cut or damaged files ignored, concurrent writers safe.</summary>
public sealed class SampleOutputsCacheTests
{
    static SampleOutputs Outputs(int n, int seed)
    {
        var random = new Random(seed);
        var labels = Enumerable.Range(0, n).Select(i => i % 10).ToArray();
        return new SampleOutputs(labels, Enumerable.Range(0, n * 10).Select(_ => (float)random.NextDouble()).ToArray(), 10);
    }

    static SampleOutputs WithFeatures(int n, int seed, int d)
    {
        var random = new Random(seed);
        var plain = Outputs(n, seed);
        return new SampleOutputs(plain.Labels.ToArray(), plain.AllLogits.ToArray(), 10,
            Enumerable.Range(0, n * d).Select(_ => (float)random.NextDouble()).ToArray(), d);
    }

    static DatasetSplit Data(byte pixel)
    {
        ImageDataset Split(int n) => new("t", Enumerable.Repeat(pixel, n * 3 * 4 * 4).ToArray(), Enumerable.Range(0, n).Select(i => (byte)(i % 10)).ToArray(), 3, 4, 4, Cifar10.ClassNames);
        return new DatasetSplit(Split(20), Split(10));
    }

    [Fact]
    public void OutputsComeBackAsWrittenAndKeysNameEverything()
    {
        using var folder = new TempFolder();
        var cache = new SampleOutputsCache(folder.Path);
        var config = ResNet18Config.Cifar10;
        var data = Data(1);
        string key = SampleOutputsCache.Key(new string('a', 64), config, "cpu", data);
        Assert.Null(cache.TryRead(key));
        var (train, test) = (Outputs(20, 1), Outputs(10, 2));
        cache.Write(key, train, test);
        var back = cache.TryRead(key) ?? throw new Xunit.Sdk.XunitException("written outputs not found");
        Assert.Equal(train.Labels.ToArray(), back.Train.Labels.ToArray());
        Assert.Equal(train.AllLogits.ToArray(), back.Train.AllLogits.ToArray());
        Assert.Equal(test.AllLogits.ToArray(), back.Test.AllLogits.ToArray());

        // Another model file, data set, normalisation or device is another key.
        Assert.NotEqual(key, SampleOutputsCache.Key(new string('b', 64), config, "cpu", data));
        Assert.NotEqual(key, SampleOutputsCache.Key(new string('a', 64), config, "cpu", Data(2)));
        Assert.NotEqual(key, SampleOutputsCache.Key(new string('a', 64), config with { Normalization = InputNormalization.FashionMnist }, "cpu", data));
        Assert.NotEqual(key, SampleOutputsCache.Key(new string('a', 64), config, "cuda", data));
        Assert.Equal(key, SampleOutputsCache.Key(new string('a', 64), config, "cpu", Data(1)));
    }

    [Fact]
    public void CutOrDamagedFilesAreIgnoredAndConcurrentWritersLeaveAWholeFile()
    {
        using var folder = new TempFolder();
        var cache = new SampleOutputsCache(folder.Path);
        string key = new('c', 64);
        var (train, test) = (Outputs(50, 3), Outputs(20, 4));
        cache.Write(key, train, test);
        byte[] whole = File.ReadAllBytes(cache.PathFor(key));

        File.WriteAllBytes(cache.PathFor(key), whole[..(whole.Length / 2)]);   // a cut file (written without the rename)
        Assert.Null(cache.TryRead(key));
        var damaged = (byte[])whole.Clone();
        damaged[100] ^= 1;                                                     // one bit changed
        File.WriteAllBytes(cache.PathFor(key), damaged);
        Assert.Null(cache.TryRead(key));

        // Eight writers of the same key at once (two runs evaluating the same base model): a whole file, no temporaries left.
        Parallel.For(0, 8, _ => cache.Write(key, train, test));
        Assert.Equal(whole, File.ReadAllBytes(cache.PathFor(key)));
        Assert.Single(Directory.GetFiles(folder.Path));
        Assert.NotNull(cache.TryRead(key));
    }

    [Fact]
    public void FeaturesComeBackWhenAskedForAndAFileWithoutThemIsAMissForTheProbe()
    {
        using var folder = new TempFolder();
        var cache = new SampleOutputsCache(folder.Path);
        string key = new('d', 64);
        var (train, test) = (WithFeatures(20, 5, 8), WithFeatures(10, 6, 8));
        cache.Write(key, train, test);
        var back = cache.TryRead(key, features: true) ?? throw new Xunit.Sdk.XunitException("written outputs not found");
        Assert.Equal(8, back.Train.FeatureWidth);
        Assert.Equal(train.Features.ToArray(), back.Train.Features.ToArray());
        Assert.Equal(test.Features.ToArray(), back.Test.Features.ToArray());
        Assert.Equal(test.AllLogits.ToArray(), back.Test.AllLogits.ToArray());
        // Not asked for: the same outputs without the features (nothing kept in memory for them).
        var plain = cache.TryRead(key) ?? throw new Xunit.Sdk.XunitException("written outputs not found");
        Assert.False(plain.Train.HasFeatures);
        Assert.Equal(train.AllLogits.ToArray(), plain.Train.AllLogits.ToArray());

        // A file written without features serves the metrics but not the probe (which then forwards and rewrites it).
        cache.Write(key, Outputs(20, 1), Outputs(10, 2));
        Assert.NotNull(cache.TryRead(key));
        Assert.Null(cache.TryRead(key, features: true));
    }

    [Fact]
    public void AVersionOneFileIsIgnoredNotMisread()
    {
        // Version 1's layout (a 20-byte header without the feature width, labels and logits, SHA-256), checksum intact.
        using var folder = new TempFolder();
        var cache = new SampleOutputsCache(folder.Path);
        string key = new('e', 64);
        var (train, test) = (Outputs(20, 1), Outputs(10, 2));
        var body = new List<byte>();
        foreach (int v in new[] { 0x4F535549, 1, 10, train.Count, test.Count }) body.AddRange(BitConverter.GetBytes(v));
        foreach (var split in new[] { train, test })
        {
            foreach (int y in split.Labels) body.AddRange(BitConverter.GetBytes(y));
            foreach (float z in split.AllLogits) body.AddRange(BitConverter.GetBytes(z));
        }
        var bytes = body.Concat(System.Security.Cryptography.SHA256.HashData(body.ToArray())).ToArray();
        File.WriteAllBytes(cache.PathFor(key), bytes);
        Assert.Null(cache.TryRead(key));
        Assert.Null(cache.TryRead(key, features: true));
    }
}
