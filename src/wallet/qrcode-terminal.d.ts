// qrcode-terminal ships no types; only the callback form of generate is used (src/wallet/offer.ts).
declare module 'qrcode-terminal' {
  const qrcode: {
    generate(input: string, options: { small?: boolean }, callback: (output: string) => void): void;
  };
  export default qrcode;
}
