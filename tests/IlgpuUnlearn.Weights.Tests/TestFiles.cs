using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.Json;
using IlgpuUnlearn.Weights.ResNet18;

namespace IlgpuUnlearn.Weights.Tests;

/// <summary>Fixture paths, expected values and temporary folders for the tests.</summary>
internal static class TestFiles
{
    public const int FixtureWidth = 4;

    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", name);

    /// <summary>A fresh empty folder under the system temp folder.</summary>
    public static string NewTempFolder()
    {
        string folder = Path.Combine(Path.GetTempPath(), "weights-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>The values of resnet_w4_expected.bin per canonical name (num_batches_tracked as its int64 value).</summary>
    public static Dictionary<string, double[]> ExpectedResNetValues()
    {
        byte[] blob = File.ReadAllBytes(Fixture("resnet_w4_expected.bin"));
        var values = new Dictionary<string, double[]>();
        int offset = 0;
        foreach (ResNet18TensorSpec spec in ResNet18StateDictLayout.Cifar(FixtureWidth))
        {
            long count = StoredTensor.ElementCountOf(spec.Shape);
            var tensor = new double[count];
            for (int i = 0; i < count; i++)
            {
                if (spec.DType == TensorDType.Int64)
                {
                    tensor[i] = BinaryPrimitives.ReadInt64LittleEndian(blob.AsSpan(offset));
                    offset += 8;
                }
                else
                {
                    tensor[i] = BinaryPrimitives.ReadSingleLittleEndian(blob.AsSpan(offset));
                    offset += 4;
                }
            }
            values[spec.Name] = tensor;
        }
        Assert.Equal(blob.Length, offset);
        return values;
    }

    public sealed record ExpectedTensor(string DType, int[] Shape, double[] Values);

    /// <summary>dtypes_expected.json: name -> dtype, shape and row-major values, in file order.</summary>
    public static List<(string Name, ExpectedTensor Tensor)> ExpectedDTypeTensors()
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(Fixture("dtypes_expected.json")));
        var result = new List<(string, ExpectedTensor)>();
        foreach (JsonProperty property in document.RootElement.EnumerateObject())
        {
            string dtype = property.Value.GetProperty("dtype").GetString()!;
            int[] shape = property.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            double[] values = property.Value.GetProperty("values").EnumerateArray()
                .Select(e => dtype == "int64" ? e.GetInt64() : e.GetDouble()).ToArray();
            result.Add((property.Name, new ExpectedTensor(dtype, shape, values)));
        }
        return result;
    }

    /// <summary>Every element of a stored tensor as a double (int64 exactly where it fits).</summary>
    public static double[] ValuesOf(StoredTensor tensor)
    {
        var values = new double[tensor.ElementCount];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = tensor.ElementAsDouble(i);
        }
        return values;
    }

    /// <summary>
    /// Runs a script with the first of /usr/bin/python3 and python3 that has torch. Throws (so the test fails
    /// loudly) when neither has it: CI installs python3-torch, and a check that silently passes is a defect.
    /// </summary>
    public static (int ExitCode, string Output) RunWithTorchPython(IReadOnlyList<string> arguments, TimeSpan timeout)
    {
        var tried = new List<string>();
        foreach (string python in new[] { "/usr/bin/python3", "python3" })
        {
            try
            {
                (int code, string output) = RunProcess(python, arguments, timeout);
                if (output.Contains("No module named 'torch'", StringComparison.Ordinal))
                {
                    tried.Add($"{python}: no torch");
                    continue;
                }
                return (code, output);
            }
            catch (System.ComponentModel.Win32Exception)
            {
                tried.Add($"{python}: not found");
            }
        }
        throw new InvalidOperationException(
            $"No Python with PyTorch found ({string.Join("; ", tried)}). The round-trip test needs it: install python3-torch.");
    }

    public static (int ExitCode, string Output) RunProcess(string program, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            return (-1, "timed out");
        }
        return (process.ExitCode, output.Result + error.Result);
    }
}
