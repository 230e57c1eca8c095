/// A fixed-size array that threads write to at disjoint indices (each index by one job only).
final class SharedArray<Element>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Element>
    let count: Int
    init(repeating value: Element, count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: value, count: count)
    }
    convenience init(_ values: [Element]) {
        self.init(repeating: values[0], count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: count) }
    }
    deinit { pointer.deinitialize(count: count); pointer.deallocate() }
    subscript(i: Int) -> Element {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }
    var array: [Element] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}
