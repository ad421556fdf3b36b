// Minimal .npy (NumPy format 1.0/2.0) reader and writer: little-endian float32,
// float64, float16 (as its bits), int64, int32, uint8 and bool arrays in C order.
import { readFileSync, writeFileSync } from 'node:fs';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

// numpy descr -> [onnxruntime tensor type, TypedArray constructor]
const DTYPES = {
  '<f4': ['float32', Float32Array],
  '<f8': ['float64', Float64Array],
  '<f2': ['float16', Uint16Array],
  '<i8': ['int64', BigInt64Array],
  '<i4': ['int32', Int32Array],
  '|u1': ['uint8', Uint8Array],
  '|b1': ['bool', Uint8Array],
};
const DESCR_OF = Object.fromEntries(Object.entries(DTYPES).map(([d, [t]]) => [t, d]));

export function readNpy(path) {
  const buf = readFileSync(path);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new Error(`${path}: not a .npy file`);
  const major = buf[6];
  let headerLen, offset;
  if (major === 1) { headerLen = buf.readUInt16LE(8); offset = 10; }
  else if (major === 2 || major === 3) { headerLen = buf.readUInt32LE(8); offset = 12; }
  else throw new Error(`${path}: unsupported .npy version ${major}`);
  const header = buf.subarray(offset, offset + headerLen).toString('latin1');
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new Error(`${path}: cannot parse header ${header}`);
  }
  if (fortran === 'True') throw new Error(`${path}: fortran_order arrays are not supported`);
  const entry = DTYPES[descr];
  if (!entry) throw new Error(`${path}: unsupported dtype ${descr}`);
  const [type, Ctor] = entry;
  const dims = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const start = offset + headerLen;
  const nbytes = count * Ctor.BYTES_PER_ELEMENT;
  if (buf.length - start < nbytes) throw new Error(`${path}: truncated data`);
  // Copy into a fresh, aligned ArrayBuffer.
  const data = new Ctor(buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + start + nbytes));
  return { type, dims, data };
}

export function writeNpy(path, type, dims, data) {
  const descr = DESCR_OF[type];
  if (!descr) throw new Error(`cannot write tensors of type ${type} to .npy`);
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // magic(6) + version(2) + len(2) + header + '\n' padded to a multiple of 64
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header + ' '.repeat(total - 10 - header.length - 1) + '\n';
  const pre = Buffer.alloc(10);
  MAGIC.copy(pre, 0);
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  writeFileSync(path, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}
