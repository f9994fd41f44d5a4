using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;
using IlgpuUnlearn.Tests.Support;
using IlgpuUnlearn.Weights.ResNet18;

namespace IlgpuUnlearn.Tests.Evaluation.Probes;

/// <summary>
/// What the probe, relearn and CKA tests share: Fixtures/cka_w4_s16.safetensors (Fixtures/make_probe_fixtures.py), three
/// width-4 ResNet18s on 16x16 colour images under the prefixes "unlearned.", "base." and "retrained.", with 600 training
/// and 120 test images of ten classes (named c0 to c9 here), forget class 3.
/// </summary>
internal static class ProbeFixture
{
    /// <summary>The fixture file, read once.</summary>
    public static PyTorchFixture File { get; } = FixtureFile.Open("cka_w4_s16.safetensors");

    /// <summary>The fixture's network: width 4, 16x16 images, 3 channels, 10 classes.</summary>
    public static ResNet18Config Config { get; } = new(Width: 4, ImageSize: 16);

    public static string[] ClassNames { get; } = Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray();

    /// <summary>The split's images ("train" or "test"), all of them or the first <paramref name="count"/> in file order.</summary>
    public static ImageDataset Images(string split, int? count = null)
    {
        var pixels = File.Bytes(split + ".pixels");
        var labels = File.Longs(split + ".labels").Select(v => (byte)v).ToArray();
        if (count is int n)
        {
            pixels = pixels[..(n * 3 * 16 * 16)];
            labels = labels[..n];
        }
        return new ImageDataset("fixture " + split, pixels, labels, 3, 16, 16, ClassNames);
    }

    /// <summary>Both splits (all images, or the first <paramref name="train"/> and <paramref name="test"/>).</summary>
    public static DatasetSplit Data(int? train = null, int? test = null) => new(Images("train", train), Images("test", test));

    /// <summary>A network on <paramref name="ops"/> for batches of up to <paramref name="maxBatch"/>, loaded with the model of <paramref name="role"/> ("unlearned", "base", "retrained").</summary>
    public static ResNet18 Model(IOps ops, string role, int maxBatch = 5)
    {
        var model = new ResNet18(ops, Config, maxBatch);
        try
        {
            Load(model, role);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Loads the model of <paramref name="role"/> into <paramref name="model"/> (a network of <see cref="Config"/>).</summary>
    public static void Load(ResNet18 model, string role) => ModelState.Load(model, PyTorchFixtureCheck.FixtureState(File, role + ".", model.Layout));

    /// <summary>The model of <paramref name="role"/> as weights (what a run reads from a file), by way of <paramref name="holder"/>.</summary>
    public static ResNet18Weights Weights(ResNet18 holder, string role)
    {
        Load(holder, role);
        return ModelFiles.Canonical(holder);
    }
}
