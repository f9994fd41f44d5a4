using System.Buffers.Binary;
using IlgpuUnlearn.Weights.ResNet18;

namespace IlgpuUnlearn.Weights.Tests;

/// <summary>
/// Files PyTorch users really have, made by fixtures/make_checkpoint_fixtures.py with PyTorch 1.13 (width-2 ResNet18):
/// older formats, training checkpoints, wrapper prefixes, TorchScript and whole models. Values are compared exactly with
/// what PyTorch wrote (the readers copy bits; nothing is computed), messages by their words.
/// </summary>
public class CheckpointTests
{
    private const int Width = 2;

    private static string Checkpoint(string name) => TestFiles.Fixture(Path.Combine("checkpoints", name));

    /// <summary>A values file of the fixture script: every state-dict tensor in canonical order (float32, int64 counters).</summary>
    private static Dictionary<string, double[]> Expected(string name)
    {
        byte[] blob = File.ReadAllBytes(Checkpoint(name));
        var values = new Dictionary<string, double[]>();
        int offset = 0;
        foreach (ResNet18TensorSpec spec in ResNet18StateDictLayout.Cifar(Width))
        {
            var tensor = new double[StoredTensor.ElementCountOf(spec.Shape)];
            for (int i = 0; i < tensor.Length; i++)
            {
                bool counter = spec.DType == TensorDType.Int64;
                tensor[i] = counter ? BinaryPrimitives.ReadInt64LittleEndian(blob.AsSpan(offset)) : BinaryPrimitives.ReadSingleLittleEndian(blob.AsSpan(offset));
                offset += counter ? 8 : 4;
            }
            values[spec.Name] = tensor;
        }
        Assert.Equal(blob.Length, offset);
        return values;
    }

    private static void AssertValues(Dictionary<string, double[]> expected, ResNet18Weights weights)
    {
        Assert.Equal(expected.Count, weights.Tensors.Count);
        foreach (MappedTensor tensor in weights.Tensors)
        {
            Assert.Equal(expected[tensor.CanonicalName], tensor.Values.Select(v => (double)v).ToArray());
        }
    }

    private static WeightsFormatException LoadFails(string name) =>
        Assert.Throws<WeightsFormatException>(() => WeightsFile.Load(Checkpoint(name)));

    // ----- 1. num_batches_tracked missing -----

    [Theory]
    [InlineData("w2_no_counters.pth")]
    [InlineData("w2_no_counters.safetensors")]
    public void AStateDictWithoutCountersLoadsWithThemAtZeroAsPyTorchDoesAndWritesThemBack(string file)
    {
        StateDict tensors = WeightsFile.Load(Checkpoint(file)).Tensors;
        Assert.DoesNotContain(tensors.Keys, key => key.EndsWith("num_batches_tracked", StringComparison.Ordinal));
        ResNet18Weights weights = ResNet18Mapping.Map(tensors, file);
        Assert.Equal(Width, weights.Width);
        AssertValues(Expected("w2_zeroed_counters.bin"), weights); // PyTorch's strict load_state_dict of the same file
        Assert.Contains(weights.Notes, note => note.Contains("20 BatchNorm num_batches_tracked counters are not in the file", StringComparison.Ordinal));

        StateDict written = weights.ToStateDict();
        Assert.Equal(ResNet18StateDictLayout.Cifar(Width).Select(s => s.Name), written.Keys);
        Assert.Equal(TensorDType.Int64, written["layer3.0.downsample.1.num_batches_tracked"].DType);
        Assert.Equal([0L], written["bn1.num_batches_tracked"].ToInt64());
    }

    [Fact]
    public void MissingCountersAreWrittenUnderTheFilesNamingStyle()
    {
        StateDict tensors = WeightsFile.Load(Checkpoint("w2_no_counters.pth")).Tensors;
        var kuangliu = new StateDict();
        foreach ((string key, StoredTensor tensor) in tensors)
        {
            kuangliu.Set(key.Replace(".downsample.", ".shortcut.", StringComparison.Ordinal).Replace("fc.", "linear.", StringComparison.Ordinal), tensor);
        }
        StateDict written = ResNet18Mapping.Map(kuangliu, "k.pth").ToStateDict();
        Assert.True(written.ContainsKey("layer2.0.shortcut.1.num_batches_tracked"));
        Assert.True(written.ContainsKey("linear.weight"));
    }

    // ----- 2. legacy torch.save at every pickle protocol -----

    [Theory]
    [InlineData("w2_legacy_p1.pth", WeightsFileFormat.TorchLegacy)]
    [InlineData("w2_legacy_p2.pth", WeightsFileFormat.TorchLegacy)]
    [InlineData("w2_legacy_p3.pth", WeightsFileFormat.TorchLegacy)]
    [InlineData("w2_legacy_p4.pth", WeightsFileFormat.TorchLegacy)]
    [InlineData("w2_legacy_p5.pth", WeightsFileFormat.TorchLegacy)]
    [InlineData("w2_zip_p5.pth", WeightsFileFormat.TorchZip)]
    public void FilesOfEveryPickleProtocolLoadWithTorchsValues(string name, WeightsFileFormat format)
    {
        string file = Checkpoint(name);
        LoadedWeights loaded = WeightsFile.Load(file);
        Assert.Equal(format, loaded.Format);
        AssertValues(Expected("w2_expected.bin"), ResNet18Mapping.Map(loaded.Tensors, file));
    }

    [Fact]
    public void ALegacyFileIsToldByItsMagicNumberWhateverThePickleProtocol()
    {
        // Protocols 0 and 1 write the magic number as text (LONG "L...L\n"), 2-3 as LONG1, 4-5 inside a FRAME.
        byte[] text = [.. "L119547037146038801333356L\n."u8, 0x80, 0x02];
        Assert.Equal(WeightsFileFormat.TorchLegacy, WeightsFile.DetectFormat(new MemoryStream(text), "p0"));
        Assert.Equal(text[..28], File.ReadAllBytes(Checkpoint("w2_legacy_p1.pth"))[..28]);
        var error = Assert.Throws<WeightsFormatException>(() => WeightsFile.Load(text, "p0.pth"));
        Assert.StartsWith("p0.pth: pickle at byte 30: the pickle ends before its STOP opcode", error.Message); // read as legacy: the second pickle is cut
    }

    // ----- 5. training checkpoints -----

    [Theory]
    [InlineData("w2_checkpoint.pth")]
    [InlineData("w2_checkpoint_legacy_p4.pth")]
    public void ATrainingCheckpointLoadsItsModelAndNamesWhatItSkipped(string file)
    {
        LoadedWeights loaded = WeightsFile.Load(Checkpoint(file));
        Assert.Equal("model_state_dict", loaded.WrapperKey);
        AssertValues(Expected("w2_checkpoint_expected.bin"), ResNet18Mapping.Map(loaded.Tensors, file));
        // Optimizer (momentum buffers), schedulers (a Counter), RNG states (a tensor, a numpy array, tuples), numpy scalars,
        // sets, complex, bytearray, torch.device/dtype/Size are plain data: no warning. The argparse.Namespace is not.

        // The complex64 tensor is read past (its storage's bytes skipped in the legacy file) and named.
        string spectrum = "skipped spectrum: a tensor of torch.ComplexFloatStorage that has a dtype this reader does not read (not part of the model)";
        string args = "skipped args: a 'argparse.Namespace' object that is not on the allow-list (not part of the model)";
        Assert.Equal(file.Contains("legacy", StringComparison.Ordinal) ? [spectrum] : [spectrum, args], loaded.Warnings);
    }

    [Fact]
    public void ANotAllowedGlobalInsideTheStateDictBlocksTheModelByNameAndPlace()
    {
        var error = LoadFails("w2_bad_global_in_state_dict.pth");
        Assert.EndsWith(": model_state_dict.conv1.scale is a 'fractions.Fraction' object, which is not on the allow-list; it is inside the model's state dict", error.Message);
    }

    // ----- 6. wrapper prefixes -----

    [Theory]
    [InlineData("w2_orig_mod.pth", "_orig_mod.", null)]
    [InlineData("w2_module_orig_mod.pth", "module._orig_mod.", null)]
    [InlineData("w2_orig_mod_module.pth", "_orig_mod.module.", "state_dict")]
    public void TorchCompileAndDataParallelPrefixesAreStrippedInAnyOrder(string file, string prefix, string? wrapper)
    {
        LoadedWeights loaded = WeightsFile.Load(Checkpoint(file));
        Assert.Equal(prefix, loaded.StrippedPrefix);
        Assert.Equal(wrapper, loaded.WrapperKey);
        Assert.Equal("conv1.weight", loaded.Tensors.Keys.First());
        AssertValues(Expected("w2_expected.bin"), ResNet18Mapping.Map(loaded.Tensors, file));
    }

    // ----- 7. files that are not state dicts -----

    [Fact]
    public void ATorchScriptArchiveIsNamedWithWhatToDo()
    {
        Assert.EndsWith("w2_scripted.pt: is a TorchScript archive (torch.jit.save of a scripted or traced model), not a state dict: " +
            "in PyTorch, load it with torch.jit.load and save model.state_dict() with torch.save instead", LoadFails("w2_scripted.pt").Message);
    }

    [Fact]
    public void AWholePickledModelIsNamedWithWhatToDo()
    {
        Assert.EndsWith("w2_whole_model.pth: the file holds a whole pickled model (class cifar_resnet18.CifarResNet18, saved with torch.save(model)), " +
            "not a state dict: in PyTorch, load it and save model.state_dict() instead", LoadFails("w2_whole_model.pth").Message);
    }

    // ----- 8. messages that mislead -----

    [Fact]
    public void ANonTensorEntryInAStateDictIsSkippedByName()
    {
        LoadedWeights loaded = WeightsFile.Load(Checkpoint("w2_epoch_in_state_dict.pth"));
        Assert.Equal(["skipped epoch (int 57): not a tensor (PyTorch's load_state_dict would call it an unexpected key)"], loaded.Warnings);
        AssertValues(Expected("w2_expected.bin"), ResNet18Mapping.Map(loaded.Tensors, "w2"));
    }

    [Fact]
    public void AShapeMismatchStatesTheWidthOnlyWithWhereItCameFrom()
    {
        StateDict full = WeightsFile.Load(Checkpoint("w2_orig_mod.pth")).Tensors;
        var error = Assert.Throws<WeightsFormatException>(() => ResNet18Mapping.Map(Without(full, "conv1.weight"), "w2.pth"));
        Assert.Equal("w2.pth: does not match the CIFAR ResNet18 (width 2 from bn1.weight, 10 classes, 3 input channels assumed: no conv1.weight): missing tensor conv1.weight [2, 3, 3, 3]", error.Message);

        StateDict stemless = Without(full, "conv1.weight", "bn1.weight", "bn1.running_mean", "layer1.0.conv1.weight");
        error = Assert.Throws<WeightsFormatException>(() => ResNet18Mapping.Map(stemless, "w2.pth"));
        Assert.Contains("(width 64 assumed: no conv1.weight, bn1.weight or layer1.0.conv1.weight tells it, 10 classes, 3 input channels assumed: no conv1.weight)", error.Message);
    }

    private static StateDict Without(StateDict tensors, params string[] names)
    {
        var kept = new StateDict();
        foreach ((string key, StoredTensor tensor) in tensors)
        {
            if (!names.Contains(key))
            {
                kept.Set(key, tensor);
            }
        }
        return kept;
    }

    // ----- 12. byte-reproducible outputs -----

    [Fact]
    public void WritingTheSameStateDictTwiceGivesTheSameBytesWithTorchsZeroTimestamps()
    {
        string folder = TestFiles.NewTempFolder();
        StateDict tensors = WeightsFile.Load(Checkpoint("w2_half.pth")).Tensors;
        string first = Path.Combine(folder, "model.pth"), second = Path.Combine(folder, "again", "model.pth");
        Directory.CreateDirectory(Path.GetDirectoryName(second)!);
        WeightsFile.Save(first, tensors);
        Thread.Sleep(2100); // past the 2-second resolution of a DOS timestamp
        WeightsFile.Save(second, tensors);
        byte[] bytes = File.ReadAllBytes(first);
        Assert.Equal(bytes, File.ReadAllBytes(second));

        // Every local and central header's DOS time and date are 0 (torch.save's writer), and data is 64-byte aligned.
        int headers = 0;
        for (int at = 0; at + 4 <= bytes.Length; at++)
        {
            uint signature = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at));
            if (signature == 0x04034b50)
            {
                Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 10)));
                int dataStart = at + 30 + BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(at + 26)) + BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(at + 28));
                Assert.Equal(0, dataStart % 64);
                headers++;
            }
            else if (signature == 0x02014b50)
            {
                Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 12)));
            }
        }
        Assert.Equal(tensors.Count + 3, headers);
        Assert.Equal(tensors.Select(t => t.Key), WeightsFile.Load(first).Tensors.Keys);
        Directory.Delete(folder, true);
    }
}
