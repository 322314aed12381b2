namespace SharpLM;

/// <summary>
/// A problem with the user's input (missing file, bad value, corrupt data). The message is one sentence that says
/// what is wrong and what to do; front ends print it without a stack trace and exit with code 1.
/// </summary>
public class SharpLMException : Exception
{
    public SharpLMException(string message)
        : base(message) { }

    public SharpLMException(string message, Exception inner)
        : base(message, inner) { }
}
