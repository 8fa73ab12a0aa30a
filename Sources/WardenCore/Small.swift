/// Sorting and de-duplicating the few values the hook and `verify` paths handle (pids, tids, filter
/// counts, names) without a Set or the standard library's stable sort: in a static executable the
/// first use of each instantiates generic metadata and looks up conformances at run time, about
/// 0.2 M instructions apiece, more than the work (issue 14).
extension Array where Element: Comparable {
    /// Ascending. Input that is sorted already (a /proc listing) is returned as it is; a short one (up
    /// to 256) is insertion-sorted; a long unsorted one falls back to `sorted()`.
    @inlinable public func sortedFew() -> [Element] {
        if isSorted { return self }
        guard count <= 256 else { return sorted() }
        // Binary insertion: n log n comparisons (a String's is the expensive part), stable.
        var out = self
        for i in 1..<out.count where out[i] < out[i - 1] {
            let v = out[i]
            var lo = 0, hi = i - 1
            while lo < hi {
                let mid = (lo + hi) / 2
                if v < out[mid] { hi = mid } else { lo = mid + 1 }
            }
            var j = i
            while j > lo { out[j] = out[j - 1]; j -= 1 }
            out[lo] = v
        }
        return out
    }

    /// Ascending, each value once.
    @inlinable public func uniqueSorted() -> [Element] {
        var out = [Element]()
        out.reserveCapacity(count)
        for v in sortedFew() where out.last != v { out.append(v) }
        return out
    }

    @inlinable var isSorted: Bool {
        var i = 1
        while i < count { if self[i] < self[i - 1] { return false }; i += 1 }
        return true
    }
}

extension Array where Element: Equatable {
    /// Each value once, in the order first seen (a linear scan: for tens of values).
    @inlinable public func uniqueInOrder() -> [Element] {
        var out = [Element]()
        for v in self where !out.contains(v) { out.append(v) }
        return out
    }
}

/// A map from pid or tid to a value, its keys kept sorted: found by binary search, never hashed (an
/// Int32-keyed Dictionary's first use looks up Int32's Hashable conformance at run time, 0.25 M
/// instructions of a `verify`). Inserting shifts the arrays: fine for a container's tasks.
public struct PidMap<Value> {
    @usableFromInline var storedKeys: [Int32] = []
    @usableFromInline var storedValues: [Value] = []
    /// Ascending.
    @inlinable public var keys: [Int32] { storedKeys }
    /// In the order of `keys`.
    @inlinable public var values: [Value] { storedValues }

    @inlinable public init() {}

    @inlinable public var count: Int { storedKeys.count }
    @inlinable public var isEmpty: Bool { storedKeys.isEmpty }

    /// Where `key` is, or where it would go.
    @inlinable func slot(_ key: Int32) -> (index: Int, found: Bool) {
        var lo = 0, hi = storedKeys.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if storedKeys[mid] < key { lo = mid + 1 } else { hi = mid }
        }
        return (lo, lo < storedKeys.count && storedKeys[lo] == key)
    }

    @inlinable public subscript(key: Int32) -> Value? {
        get {
            let s = slot(key)
            return s.found ? storedValues[s.index] : nil
        }
        set {
            let s = slot(key)
            switch (s.found, newValue) {
            case (true, let v?): storedValues[s.index] = v
            case (true, nil): storedKeys.remove(at: s.index); storedValues.remove(at: s.index)
            case (false, let v?): storedKeys.insert(key, at: s.index); storedValues.insert(v, at: s.index)
            case (false, nil): break
            }
        }
    }

    @inlinable public mutating func removeAll() {
        storedKeys.removeAll()
        storedValues.removeAll()
    }
}

extension Array where Element == String {
    /// The strings with `separator` between them, as the standard library's `joined(separator:)`,
    /// which this overload shadows for arrays of strings in every module that imports WardenCore: the
    /// library's is generic over BidirectionalCollection and not specialized, and its first call
    /// looks up associated types at run time (0.19 M instructions of a 3.2 M `verify`).
    @inlinable public func joined(separator: String) -> String {
        var out = ""
        for (i, s) in enumerated() {
            if i > 0 { out += separator }
            out += s
        }
        return out
    }
}
