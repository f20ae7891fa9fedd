// The version `tunwall version` prints and the control socket's "version"
// request answers (the same binary, so one constant).

public enum TunwallVersion {
    public static let current = "0.1.0"
}
