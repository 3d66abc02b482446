export default function subscribe() {
  return { next: 0 }
}
