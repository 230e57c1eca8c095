/// A value handed to another thread without the compiler's Sendable check: the caller promises that
/// threads touch disjoint parts of what it points to (or, for Hogwild SGD, that racing is intended).
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
}
