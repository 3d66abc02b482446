export default function makeApiClient({ parameters }) {
  return { baseUri: parameters.baseUri }
}
