import { describe, expect, it } from 'vitest';
import { perfKindOf, splitPerfReport } from '../../bench/perfSplit';

/** bench/perfSplit.ts: `perf report --sort dso,sym` rows sorted into kinds of code. */
describe('the perf split of the server CPU', () => {
  it('places native, kernel and JavaScript samples by library and symbol', () => {
    expect(perfKindOf('node', 'fe_mul')).toBe('crypto (OpenSSL: Ed25519, SHA-2)');
    expect(perfKindOf('node', 'sha512_block_data_order_avx2')).toBe('crypto (OpenSSL: Ed25519, SHA-2)');
    expect(perfKindOf('better_sqlite3.node', 'sqlite3VdbeExec')).toBe('SQLite (native)');
    expect(perfKindOf('[kernel.kallsyms]', 'tcp_sendmsg')).toBe('kernel (TCP, file writes, scheduling)');
    expect(perfKindOf('libc.so.6', '_int_malloc')).toBe('libc (malloc/free, memcpy)');
    expect(perfKindOf('[JIT] tid 3271', 'JS:*run file:///x/session.js:69:6')).toBe('JavaScript: JIT code and V8 builtins');
    expect(perfKindOf('node', 'Builtins_KeyedLoadIC_Megamorphic')).toBe('JavaScript: JIT code and V8 builtins');
    expect(perfKindOf('node', 'v8::internal::Scavenger::ScavengeObject<v8::internal::FullHeapObjectSlot>')).toBe('V8 garbage collector');
    expect(perfKindOf('node', 'v8::internal::compiler::GraphReducer::ReduceTop')).toBe('V8 compiler');
    expect(perfKindOf('node', 'v8::internal::JsonStringifier::SerializeString')).toBe('V8 runtime in C++ (JSON, strings, property lookups)');
    expect(perfKindOf('node', 'llhttp__internal_execute')).toBe('Node and libuv in C++ (llhttp, streams, handles)');
  });

  it('places workerd’s statically linked SQLite, BoringSSL, runtime and V8 apart', () => {
    expect(perfKindOf('workerd', 'sqlite3VdbeExec')).toBe('SQLite (native)');
    expect(perfKindOf('workerd', 'fiat_25519_carry_mul')).toBe('crypto (OpenSSL: Ed25519, SHA-2)');
    expect(perfKindOf('workerd', 'kj::_::AdapterPromiseNode<kj::_::Void>::get')).toBe('workerd in C++ (kj I/O, capnp RPC to D1, HTTP)');
    expect(perfKindOf('workerd', 'capnp::_::PointerBuilder::getStruct')).toBe('workerd in C++ (kj I/O, capnp RPC to D1, HTTP)');
    expect(perfKindOf('workerd', 'Builtins_CallFunction_ReceiverIsAny')).toBe('JavaScript: JIT code and V8 builtins');
    expect(perfKindOf('workerd', 'v8::internal::Scavenger::ScavengeObject<v8::internal::FullHeapObjectSlot>')).toBe('V8 garbage collector');
    expect(perfKindOf('workerd', 'workerd::jsg::ResourceWrapper::construct')).toBe('V8 runtime in C++ (JSON, strings, property lookups)');
  });

  it('sums a report by kind and skips its comments', () => {
    const report = [
      '# Samples: 21K of event cpu-clock',
      '     6.67%  node                 [.] fe_mul',
      '     3.30%  node                 [.] fe_sq',
      '     1.33%  better_sqlite3.node  [.] sqlite3VdbeExec',
      '     0.37%  [JIT] tid 3271       [.] JS:*encodeStr node:internal/querystring:45:19',
      '     0.83%  [kernel.kallsyms]    [k] _raw_spin_unlock_irqrestore',
      '',
    ].join('\n');
    const split = splitPerfReport(report);
    expect(split.get('crypto (OpenSSL: Ed25519, SHA-2)')).toBeCloseTo(9.97);
    expect(split.get('SQLite (native)')).toBeCloseTo(1.33);
    expect(split.get('JavaScript: JIT code and V8 builtins')).toBeCloseTo(0.37);
    expect(split.get('kernel (TCP, file writes, scheduling)')).toBeCloseTo(0.83);
    expect(split.get('V8 compiler')).toBe(0);
  });
});
