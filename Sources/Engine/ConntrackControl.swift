// `conntrack -D`, `-F` and `-U` on a running engine: the table operations of
// Conntrack (ConntrackOperations.swift), plus what only the engine holds.
// A deleted connection's helper session goes with it (bytes it held for a
// line are never released: the connection they belong to is gone, as an
// skb queued for a deleted conntrack is dropped in Linux), and so do the
// expectations it made (nf_ct_remove_expectations).

import Conntrack

extension Engine {
    /// Removes the live connections `filter` matches (all of them for an
    /// empty filter: `conntrack -F`); returns them as they were, oldest first.
    public func deleteConnections(matching filter: ConntrackFilter, now: Timestamp) -> [ConnEntry] {
        var deleted: [ConnEntry] = []
        for position in conntrack.positions(matching: filter, now: now) {
            guard let entry = conntrack.delete(position) else { continue }
            if let slot = helpers[Int32(position)], slot.id == entry.id {
                helpers[Int32(position)] = nil
                holdingSessions.remove(Int32(position))
            }
            deleted.append(entry)
        }
        return deleted
    }

    /// Sets the mark and/or timeout of the live connections `filter` matches;
    /// returns them as they are now, oldest first.
    public func updateConnections(matching filter: ConntrackFilter, mark: UInt32?, timeout: UInt32?,
                                  now: Timestamp) -> [ConnEntry] {
        conntrack.positions(matching: filter, now: now).map { position in
            conntrack.update(position, mark: mark, timeout: timeout, now: now)
            return conntrack.table[position]
        }
    }
}
