// The helpers tunwall has, by the kind a `ct helper` object names: the one
// place the engine names them. A new helper is a case of HelperKind
// (Conntrack) and a line in each switch below.
//
//   type "ftp"  protocol tcp   FTPSession   (FTP target; policy: EngineConfiguration.ftp)
//   type "tftp" protocol udp   TFTPSession  (TFTP target)

import Conntrack
import FTP
import TFTP

enum HelperRegistry {
    /// A helper for one new connection of `kind`.
    static func make(_ kind: HelperKind, configuration: EngineConfiguration) -> (any ConnectionHelper)? {
        switch kind {
        case .none: return nil
        case .ftp: return FTPSession(policy: configuration.ftp)
        case .tftp: return TFTPSession()
        }
    }

    /// The helper type of `kind` (its counters).
    static func type(_ kind: HelperKind) -> (any ConnectionHelper.Type)? {
        switch kind {
        case .none: return nil
        case .ftp: return FTPSession.self
        case .tftp: return TFTPSession.self
        }
    }

    /// What a connection the helper's expectation let in is called in logs.
    static func relatedNoun(_ kind: HelperKind) -> String {
        switch kind {
        case .ftp: return "data connection"
        case .tftp: return "transfer"
        case .none: return "connection"
        }
    }
}

extension Statistics {
    /// What the FTP helper counted (`tunwall stats`' "ftp helper" lines).
    public func ftpCount(_ counter: FTPCounter) -> UInt64 { helperCount(.ftp, counter.rawValue) }

    /// What the TFTP helper counted.
    public func tftpCount(_ counter: TFTPSession.Counter) -> UInt64 { helperCount(.tftp, counter.rawValue) }
}
