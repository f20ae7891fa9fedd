// What `conntrack -L/-D/-U/-S` and their expect-table forms do to the table,
// as ctnetlink does them in Linux (nf_conntrack_netlink.c):
//
// - delete (ctnetlink_del_conntrack → nf_ct_delete): the entry leaves the
//   table at once, a DESTROY event goes out, and its expectations go with it
//   (nf_ct_remove_expectations: a deleted FTP control connection can no
//   longer let a data connection in). Its NAT mapping is free again, since
//   a mapping is nothing but the entry's reply tuple in the table.
// - update (ctnetlink_change_conntrack): the mark (`-m`, IPCT_MARK) and the
//   timeout (`-t`, seconds from now) change in place; an UPDATE event goes out.
// - expectations are deleted one by one (ctnetlink_del_expect), listed and
//   counted like connections.
//
// The engine adds what only it knows (its helper sessions) around these:
// Engine.deleteConnections (Sources/Engine/ConntrackControl.swift).

extension Conntrack {
    /// Table positions of the live connections `filter` matches, oldest first.
    public func positions(matching filter: ConntrackFilter, now: Timestamp) -> [Int] {
        table.livePositions(now: now)
            .filter { filter.matches(table[$0]) }
            .sorted { table[$0].id < table[$1].id }
    }

    /// The live connections `filter` matches, one conntrack -L line each.
    public func listing(matching filter: ConntrackFilter, now: Timestamp) -> [String] {
        positions(matching: filter, now: now).map { table[$0].conntrackLine(now: now) }
    }

    /// Removes the connection at `position` and the expectations it made;
    /// returns it as it was (nil if the position holds none).
    @discardableResult
    public mutating func delete(_ position: Int) -> ConnEntry? {
        guard position >= 0, position < table.capacity, table.entries[position].inUse else { return nil }
        let entry = table[position]
        expectations.removeAll(masterPosition: position, masterID: entry.id)
        table.remove(position)
        return entry
    }

    /// Sets the mark and/or the timeout of the connection at `position`.
    public mutating func update(_ position: Int, mark: UInt32?, timeout: UInt32?, now: Timestamp) {
        guard position >= 0, position < table.capacity, table.entries[position].inUse else { return }
        if let mark { table[position].mark = mark }
        if let timeout { table[position].expires = saturatingAdd(now, UInt64(timeout) * nanosecondsPerSecond) }
        if eventsEnabled { pendingEvents.append(ConntrackEvent(kind: .update, entry: table[position], time: now)) }
    }

    /// The live expectations `filter` matches, oldest first.
    public func expectations(matching filter: ConntrackFilter, now: Timestamp) -> [ConnExpectation] {
        expectations.all.filter { isAlive($0, now: now) && filter.matches($0) }
    }

    /// Removes the live expectations `filter` matches; returns them.
    public mutating func deleteExpectations(matching filter: ConntrackFilter, now: Timestamp) -> [ConnExpectation] {
        let matched = expectations(matching: filter, now: now)
        for expectation in matched { expectations.remove(expectation.key) }
        return matched
    }

    /// `conntrack -S`: the counters tunwall keeps, named as Linux's
    /// per-CPU ip_conntrack_stat fields are (one table, so one "cpu=0" line):
    /// invalid packets, entries inserted, insertions that failed (table
    /// full or a clash), packets dropped for a full table, early drops.
    /// With several workers each shard prints its own line, `cpu=` its
    /// worker, as Linux prints one per CPU.
    public func statisticsLine() -> String {
        let invalid = invalidCounts.reduce(0, &+)
        let full = invalidCounts[InvalidReason.tableFull.rawValue], clash = invalidCounts[InvalidReason.clash.rawValue]
        return "cpu=\(table.steering?.worker ?? 0)   \tinvalid=\(invalid) insert=\(table.inserted) insert_failed=\(full &+ clash) "
            + "drop=\(full) early_drop=\(table.evicted) "
    }

    /// `conntrack -S expect`: expect_new (connections an expectation let in),
    /// expect_create (expectations made), expect_delete (removed: used,
    /// replaced, refused, deleted, or gone with their master).
    public func expectationStatisticsLine() -> String {
        let created = expectations.created
        return "cpu=\(table.steering?.worker ?? 0)   \texpect_new=\(expectationsUsed) expect_create=\(created) "
            + "expect_delete=\(created &- UInt64(expectations.count)) "
    }
}

extension FlowTable {
    /// Entries inserted since the table was made (ids are handed out from 1).
    public var inserted: UInt64 { insertedCount }
}

extension ExpectationTable {
    /// Expectations made since the table was made (each took a serial, from 1).
    public var created: UInt64 { nextSerialNumber &- 1 }
}
