using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// Reports write numbers or null, never a string: a figure that does not exist (a forget class's accuracy without a forget
/// class, an interval with --bootstrap 0, a class with no images) is NaN in memory and null in the file, which every JSON
/// reader takes as "no value". Reading accepts null and, from files written before, the strings "NaN", "Infinity", "-Infinity".
/// </summary>
public sealed class NaNAsNullJsonConverter : JsonConverter<double>
{
    public override bool HandleNull => true;

    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Null => double.NaN,
        JsonTokenType.String => double.Parse(reader.GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture),
        _ => reader.GetDouble(),
    };

    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
    {
        if (double.IsFinite(value)) writer.WriteNumberValue(value);
        else writer.WriteNullValue();
    }
}
