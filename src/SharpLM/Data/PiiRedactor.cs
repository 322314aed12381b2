using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace SharpLM.Data;

/// <summary>How many of each kind <see cref="PiiRedactor"/> replaced (thread-safe counters).</summary>
public sealed class PiiCounts
{
    long _emails,
        _phones,
        _ips;
    public long Emails => Interlocked.Read(ref _emails);
    public long Phones => Interlocked.Read(ref _phones);
    public long IpAddresses => Interlocked.Read(ref _ips);

    internal void AddEmail() => Interlocked.Increment(ref _emails);

    internal void AddPhone() => Interlocked.Increment(ref _phones);

    internal void AddIp() => Interlocked.Increment(ref _ips);
}

/// <summary>
/// Replaces e-mail addresses, phone numbers and IPv4/IPv6 addresses by <c>[EMAIL]</c>, <c>[PHONE]</c> and <c>[IP]</c>.
/// Written by hand because no maintained .NET library does PII detection offline (Presidio and its kin are Python and
/// model-based); these are patterns, so they miss what does not look like one (a number spelled out, a local 7-digit
/// number, a name or street address) and sometimes catch what only looks like one (a serial number in phone shape).
/// </summary>
public static partial class PiiRedactor
{
    public const string Email = "[EMAIL]",
        Phone = "[PHONE]",
        Ip = "[IP]";

    // Every quantifier is bounded or separated by a literal, so matching stays linear: no timeout needed.
    // Local part and domain as RFC 5322's dot-atom, with a top-level domain of letters.
    [GeneratedRegex(
        @"(?<![\w.%+-])[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
            + @"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\b",
        RegexOptions.CultureInvariant
    )]
    private static partial Regex EmailPattern();

    [GeneratedRegex(
        @"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:/\d{1,2})?(?![\w]|\.\d)",
        RegexOptions.CultureInvariant
    )]
    private static partial Regex IPv4Pattern();

    // Candidates only: IPAddress.TryParse decides (so that "12:30:45" or "a::b::c" stay).
    [GeneratedRegex(@"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|:)?(?![\w:])", RegexOptions.CultureInvariant)]
    private static partial Regex IPv6Pattern();

    // International (+CC ...), North American ((555) 123-4567, 555-123-4567, 555.123.4567) and trunk-prefixed national
    // numbers (020 7946 0958, 01 23 45 67 89, 030-1234567); the digit count is checked after matching.
    [GeneratedRegex(
        @"(?<![\w+.-])(?:\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,6}"
            + @"|(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}"
            + @"|0\d{1,4}(?:[ .-]?\d{2,4}){2,4}|0\d{2,4}[ /-]\d{5,8})(?![\w]|[.-]\d)",
        RegexOptions.CultureInvariant
    )]
    private static partial Regex PhonePattern();

    /// <summary>The text with every match replaced; e-mail first (they contain digits), then IPs, then phone numbers.</summary>
    public static string Redact(string text, PiiCounts? counts = null)
    {
        if (text.Contains('@'))
            text = EmailPattern()
                .Replace(
                    text,
                    _ =>
                    {
                        counts?.AddEmail();
                        return Email;
                    }
                );
        text = IPv4Pattern()
            .Replace(
                text,
                _ =>
                {
                    counts?.AddIp();
                    return Ip;
                }
            );
        if (text.Contains(':'))
            text = IPv6Pattern()
                .Replace(
                    text,
                    m =>
                    {
                        if (
                            m.Value.Count(c => c == ':') < 2
                            || !m.Value.Any(char.IsAsciiHexDigit)
                            || !IPAddress.TryParse(m.Value, out var a)
                            || a.AddressFamily != AddressFamily.InterNetworkV6
                        )
                            return m.Value;
                        counts?.AddIp();
                        return Ip;
                    }
                );
        return PhonePattern()
            .Replace(
                text,
                m =>
                {
                    int digits = m.Value.Count(char.IsAsciiDigit);
                    if (digits is < 8 or > 15) // E.164 numbers have at most 15 digits; fewer than 8 is a local number or not one
                        return m.Value;
                    counts?.AddPhone();
                    return Phone;
                }
            );
    }
}
