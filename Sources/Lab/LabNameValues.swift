// The names a lab makes up, checked as ConfigValue checks a config file's
// values (same characters, same wording): a topology's host names and the lab
// name, the two parts of a namespace `tw-LAB-HOST` (LabNames.swift).

import Firewall

extension ConfigValue {
    /// A topology's host name: the last part of the namespace `tw-LAB-HOST`.
    /// No "-", so that `tw-a-b-c` can only be host "c" of lab "a-b", and
    /// `lab down a` never touches lab "a-b"; "fw" is the firewall's.
    static func hostName(_ name: String) -> String? {
        if name == "fw" { return "\(quoted(name)) is reserved for the firewall's namespace" }
        if name.isEmpty || name == "." || name == ".." || name.utf8.count > Lab.maximumHostNameLength
            || !name.allSatisfy({ isNameCharacter($0, allowingDash: false) }) {
            return "\(quoted(name)) is not a valid host name (1 to \(Lab.maximumHostNameLength) characters of"
                + " A-Z a-z 0-9 _ .; no \"-\", which separates lab and host in namespace names)"
        }
        return nil
    }

    /// A lab name: the middle of `tw-LAB-HOST` and a directory under /run/tunwall/labs.
    static func labName(_ name: String) -> String? {
        if name.isEmpty || name.utf8.count > Lab.maximumNameLength || name.hasPrefix("-") || name.hasPrefix(".")
            || !name.allSatisfy({ isNameCharacter($0, allowingDash: true) }) {
            return "lab name \(quoted(name)) is not valid (1 to \(Lab.maximumNameLength) characters of"
                + " \(nameCharacters), not starting with \"-\" or \".\")"
        }
        return nil
    }
}
